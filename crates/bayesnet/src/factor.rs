//! Dense factors (potentials) and the few kernels exact inference is made of: product,
//! marginalisation (sum or max), reduction by evidence, and in-place multiply/divide by a
//! factor over a sub-scope.
//!
//! Layout is row-major over `vars`: the last variable changes fastest. Kernels walk tables
//! with strided odometers so that the common cases read memory sequentially.

use rayon::prelude::*;

use crate::network::{Assignment, VarId};

/// A non-negative table over a set of discrete variables.
#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    vars: Vec<VarId>,
    cards: Vec<usize>,
    values: Vec<f64>,
}

/// How a variable is removed from a factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marginal {
    /// Sum-product: probabilities.
    Sum,
    /// Max-product: most probable explanations.
    Max,
}

impl Factor {
    /// A factor from its parts. `values.len()` must equal the product of `cards`.
    pub fn new(vars: Vec<VarId>, cards: Vec<usize>, values: Vec<f64>) -> Self {
        debug_assert_eq!(vars.len(), cards.len());
        debug_assert_eq!(values.len(), cards.iter().product::<usize>());
        Self {
            vars,
            cards,
            values,
        }
    }

    /// A factor of ones over `vars`.
    pub fn ones(vars: Vec<VarId>, cards: Vec<usize>) -> Self {
        let n = cards.iter().product();
        Self::new(vars, cards, vec![1.0; n])
    }

    /// Variables in layout order (last fastest).
    pub fn vars(&self) -> &[VarId] {
        &self.vars
    }

    /// Cardinalities matching [`Factor::vars`].
    pub fn cards(&self) -> &[usize] {
        &self.cards
    }

    /// The table, row-major.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Moves the table out.
    pub fn into_values(self) -> Vec<f64> {
        self.values
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the table is empty (a variable with no states; never in a valid network).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Sum of all entries.
    pub fn total(&self) -> f64 {
        self.values.iter().sum()
    }

    /// Whether `v` is in the scope.
    pub fn contains(&self, v: VarId) -> bool {
        self.vars.contains(&v)
    }

    /// Row-major strides of this factor's own variables.
    fn own_strides(&self) -> Vec<usize> {
        let mut strides = vec![0; self.vars.len()];
        let mut s = 1;
        for i in (0..self.vars.len()).rev() {
            strides[i] = s;
            s *= self.cards[i];
        }
        strides
    }

    /// Strides of this factor laid over an iteration space `space` (0 where absent).
    fn strides_in(&self, space: &[VarId]) -> Vec<usize> {
        let own = self.own_strides();
        space
            .iter()
            .map(|v| self.vars.iter().position(|u| u == v).map_or(0, |i| own[i]))
            .collect()
    }

    /// Divides every entry by the total; returns the total. A zero total leaves the factor
    /// unchanged (callers decide what an impossible event means).
    pub fn normalize(&mut self) -> f64 {
        let z = self.total();
        if z > 0.0 {
            let inv = 1.0 / z;
            self.values.iter_mut().for_each(|x| *x *= inv);
        }
        z
    }

    /// Fixes the observed variables of `evidence` that are in scope and drops them.
    pub fn reduce(&self, evidence: &Assignment) -> Factor {
        if !self.vars.iter().any(|v| evidence.contains_key(v)) {
            return self.clone();
        }
        let strides = self.own_strides();
        let mut offset = 0;
        let (mut vars, mut cards, mut kept_strides) = (Vec::new(), Vec::new(), Vec::new());
        for (i, v) in self.vars.iter().enumerate() {
            match evidence.get(v) {
                Some(&s) => offset += s * strides[i],
                None => {
                    vars.push(*v);
                    cards.push(self.cards[i]);
                    kept_strides.push(strides[i]);
                }
            }
        }
        let mut values = Vec::with_capacity(cards.iter().product());
        walk(&cards, &kept_strides, |_, j| {
            values.push(self.values[offset + j])
        });
        Factor::new(vars, cards, values)
    }

    /// Product of several factors, with `eliminate` summed (or maxed) out in the same pass,
    /// so the full product over the union is never stored. The result's scope is the union
    /// of the inputs' scopes minus `eliminate`, in order of first appearance.
    pub fn combine(factors: &[&Factor], eliminate: &[VarId], op: Marginal) -> Factor {
        let (out_vars, out_cards, elim_cards) = union_scope(factors, eliminate);
        let mut space = out_vars.clone();
        space.extend_from_slice(eliminate);
        let mut cards = out_cards.clone();
        cards.extend_from_slice(&elim_cards);
        let strides: Vec<Vec<usize>> = factors.iter().map(|f| f.strides_in(&space)).collect();
        let inner: usize = elim_cards.iter().product();
        let out_len: usize = out_cards.iter().product();
        let mut out = vec![0.0; out_len];
        product_walk(factors, &cards, &strides, inner, op, |o, value, _| {
            out[o] = value
        });
        Factor::new(out_vars, out_cards, out)
    }

    /// Max-product elimination of one variable that also records, for every entry of the
    /// result, which state of `var` attained the max (for MPE traceback).
    pub fn combine_argmax(factors: &[&Factor], var: VarId, card: usize) -> (Factor, Vec<u32>) {
        let (out_vars, out_cards, _) = union_scope(factors, &[var]);
        let mut space = out_vars.clone();
        space.push(var);
        let mut cards = out_cards.clone();
        cards.push(card);
        let strides: Vec<Vec<usize>> = factors.iter().map(|f| f.strides_in(&space)).collect();
        let out_len: usize = out_cards.iter().product();
        let mut out = vec![0.0; out_len];
        let mut arg = vec![0u32; out_len];
        product_walk(
            factors,
            &cards,
            &strides,
            card,
            Marginal::Max,
            |o, value, best| {
                out[o] = value;
                arg[o] = best as u32;
            },
        );
        (Factor::new(out_vars, out_cards, out), arg)
    }

    /// Marginal of this factor on `keep` (in the order given), summing or maxing the rest.
    /// Reads the table sequentially and scatters into the (smaller) result.
    pub fn project(&self, keep: &[VarId], op: Marginal) -> Factor {
        let cards: Vec<usize> = keep
            .iter()
            .map(|v| {
                self.cards[self
                    .vars
                    .iter()
                    .position(|u| u == v)
                    .expect("projection onto a variable outside the scope")]
            })
            .collect();
        let target = Factor::ones(keep.to_vec(), cards);
        let strides = target.strides_in(&self.vars);
        let out = project_values(&self.values, &self.cards, &strides, target.len(), op);
        Factor::new(target.vars, target.cards, out)
    }

    /// `self *= other` where `other`'s scope is a subset of `self`'s.
    pub fn multiply_in(&mut self, other: &Factor) {
        let strides = other.strides_in(&self.vars);
        update_aligned(&mut self.values, &self.cards, &strides, |x, j| {
            *x *= other.values[j]
        });
    }

    /// `self /= other` with 0/0 = 0 (Hugin's convention), `other` over a sub-scope.
    pub fn divide_in(&mut self, other: &Factor) {
        let strides = other.strides_in(&self.vars);
        update_aligned(&mut self.values, &self.cards, &strides, |x, j| {
            let d = other.values[j];
            *x = if d == 0.0 { 0.0 } else { *x / d };
        });
    }
}

/// Sums (or maxes) `values`, laid out as `cards`, into a table of `out_len` entries that
/// `strides` index. Large inputs with small outputs are cut into fixed blocks, each
/// projected on its own thread, and the partial results combined in block order.
fn project_values(
    values: &[f64],
    cards: &[usize],
    strides: &[usize],
    out_len: usize,
    op: Marginal,
) -> Vec<f64> {
    let identity = if op == Marginal::Sum {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    let combine = |acc: &mut f64, x: f64| match op {
        Marginal::Sum => *acc += x,
        Marginal::Max => *acc = acc.max(x),
    };
    let project_block = |start: usize, end: usize| {
        let mut out = vec![identity; out_len];
        walk_range(cards, strides, start, end, |i, j| {
            combine(&mut out[j], values[i])
        });
        out
    };
    if values.len() < PARALLEL_MIN || out_len * PROJECTION_BLOCKS > values.len() / 4 {
        return project_block(0, values.len());
    }
    let block = values.len().div_ceil(PROJECTION_BLOCKS);
    let partials: Vec<Vec<f64>> = (0..PROJECTION_BLOCKS)
        .into_par_iter()
        .map(|b| project_block(b * block, ((b + 1) * block).min(values.len())))
        .collect();
    let mut out = vec![identity; out_len];
    for partial in partials {
        for (acc, x) in out.iter_mut().zip(partial) {
            combine(acc, x);
        }
    }
    out
}

fn union_scope(factors: &[&Factor], eliminate: &[VarId]) -> (Vec<VarId>, Vec<usize>, Vec<usize>) {
    let mut vars = Vec::new();
    let mut cards = Vec::new();
    let mut elim_cards = vec![0; eliminate.len()];
    for f in factors {
        for (&v, &c) in f.vars.iter().zip(&f.cards) {
            if let Some(k) = eliminate.iter().position(|&e| e == v) {
                elim_cards[k] = c;
            } else if !vars.contains(&v) {
                vars.push(v);
                cards.push(c);
            }
        }
    }
    (vars, cards, elim_cards)
}

/// Tables at least this large are processed by several threads; below it, thread
/// start-up costs more than it saves.
const PARALLEL_MIN: usize = 1 << 17;

/// Number of fixed blocks a parallel projection is cut into. Fixed (not one per thread)
/// so that partial sums are added in the same order on every machine: results do not
/// depend on the thread count.
const PROJECTION_BLOCKS: usize = 64;

/// Walks the row-major space `cards` in order, calling `f(i, j)` with the linear index `i`
/// of the space and the index `j` of another table whose strides in this space are
/// `strides`. The innermost dimension is a tight loop; carries are amortised.
#[inline]
fn walk(cards: &[usize], strides: &[usize], f: impl FnMut(usize, usize)) {
    walk_range(cards, strides, 0, cards.iter().product(), f);
}

/// [`walk`] restricted to the linear indices `start..end`, so that disjoint ranges can be
/// walked by different threads.
#[inline]
fn walk_range(
    cards: &[usize],
    strides: &[usize],
    start: usize,
    end: usize,
    mut f: impl FnMut(usize, usize),
) {
    let d = cards.len();
    if d == 0 {
        if start < end {
            f(0, 0);
        }
        return;
    }
    if start >= end {
        return;
    }
    let mut counter = vec![0usize; d];
    let (mut rem, mut j) = (start, 0);
    for k in (0..d).rev() {
        counter[k] = rem % cards[k];
        rem /= cards[k];
        j += counter[k] * strides[k];
    }
    let last = d - 1;
    let (last_card, last_stride) = (cards[last], strides[last]);
    let mut i = start;
    loop {
        let run = (last_card - counter[last]).min(end - i);
        for _ in 0..run {
            f(i, j);
            i += 1;
            j += last_stride;
        }
        if i >= end {
            return;
        }
        j -= last_stride * last_card;
        counter[last] = 0;
        let mut k = last;
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            counter[k] += 1;
            j += strides[k];
            if counter[k] < cards[k] {
                break;
            }
            j -= strides[k] * cards[k];
            counter[k] = 0;
        }
    }
}

/// Applies `f(entry, j)` to every entry of a table laid out as `cards`, where `j` indexes
/// another table with `strides` in this space; large tables in parallel chunks.
fn update_aligned(
    values: &mut [f64],
    cards: &[usize],
    strides: &[usize],
    f: impl Fn(&mut f64, usize) + Sync,
) {
    if values.len() < PARALLEL_MIN {
        walk(cards, strides, |i, j| f(&mut values[i], j));
        return;
    }
    let chunk = PARALLEL_MIN / 4;
    values
        .par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(c, part)| {
            let start = c * chunk;
            walk_range(cards, strides, start, start + part.len(), |i, j| {
                f(&mut part[i - start], j)
            });
        });
}

/// The product kernel: walks `cards` (output dims then `inner` eliminated entries per
/// output entry), multiplying the inputs at their strided positions and reducing each
/// block of `inner` entries with `op`. Calls `emit(out_index, value, best_inner)`.
fn product_walk(
    factors: &[&Factor],
    cards: &[usize],
    strides: &[Vec<usize>],
    inner: usize,
    op: Marginal,
    mut emit: impl FnMut(usize, f64, usize),
) {
    let d = cards.len();
    let total: usize = cards.iter().product();
    if total == 0 {
        return;
    }
    if d == 0 {
        emit(0, factors.iter().map(|f| f.values[0]).product(), 0);
        return;
    }
    // The last dimension runs in a tight loop; the odometer only turns the outer ones.
    let last = d - 1;
    let last_card = cards[last];
    let last_strides: Vec<usize> = strides.iter().map(|s| s[last]).collect();
    let mut base = vec![0usize; factors.len()];
    let mut counter = vec![0usize; last];
    let identity = if op == Marginal::Sum {
        0.0
    } else {
        f64::NEG_INFINITY
    };
    let (mut out_index, mut acc, mut best, mut in_block) = (0, identity, 0, 0);
    let mut row = vec![1.0; last_card];
    loop {
        row.iter_mut().for_each(|x| *x = 1.0);
        for ((f, &b), &s) in factors.iter().zip(&base).zip(&last_strides) {
            let values = &f.values;
            for (c, x) in row.iter_mut().enumerate() {
                *x *= values[b + c * s];
            }
        }
        for &value in &row {
            match op {
                Marginal::Sum => acc += value,
                Marginal::Max => {
                    if value > acc {
                        acc = value;
                        best = in_block;
                    }
                }
            }
            in_block += 1;
            if in_block == inner {
                emit(out_index, acc, best);
                out_index += 1;
                (acc, best, in_block) = (identity, 0, 0);
            }
        }
        // Turn the odometer over the outer dimensions.
        let mut dim = last;
        loop {
            if dim == 0 {
                return;
            }
            dim -= 1;
            counter[dim] += 1;
            for (b, s) in base.iter_mut().zip(strides) {
                *b += s[dim];
            }
            if counter[dim] < cards[dim] {
                break;
            }
            for (b, s) in base.iter_mut().zip(strides) {
                *b -= s[dim] * cards[dim];
            }
            counter[dim] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(vars: &[usize], cards: &[usize], values: &[f64]) -> Factor {
        Factor::new(
            vars.iter().map(|&v| VarId(v)).collect(),
            cards.to_vec(),
            values.to_vec(),
        )
    }

    #[test]
    fn product_and_sum_out() {
        let a = f(&[0], &[2], &[0.3, 0.7]);
        let ba = f(&[0, 1], &[2, 3], &[0.1, 0.2, 0.7, 0.5, 0.25, 0.25]);
        let joint = Factor::combine(&[&a, &ba], &[], Marginal::Sum);
        assert_eq!(joint.vars(), &[VarId(0), VarId(1)]);
        let expect = [0.03, 0.06, 0.21, 0.35, 0.175, 0.175];
        for (x, y) in joint.values().iter().zip(expect) {
            assert!((x - y).abs() < 1e-15);
        }
        let b = Factor::combine(&[&a, &ba], &[VarId(0)], Marginal::Sum);
        assert_eq!(b.vars(), &[VarId(1)]);
        let expect = [0.38, 0.235, 0.385];
        for (x, y) in b.values().iter().zip(expect) {
            assert!((x - y).abs() < 1e-15);
        }
        let pb = joint.project(&[VarId(1)], Marginal::Sum);
        assert_eq!(pb.values(), b.values());
    }

    #[test]
    fn reduce_and_argmax() {
        let ba = f(&[0, 1], &[2, 3], &[0.1, 0.2, 0.7, 0.5, 0.25, 0.25]);
        let mut ev = Assignment::new();
        ev.insert(VarId(1), 2);
        let r = ba.reduce(&ev);
        assert_eq!(r.vars(), &[VarId(0)]);
        assert_eq!(r.values(), &[0.7, 0.25]);
        let (m, arg) = Factor::combine_argmax(&[&ba], VarId(1), 3);
        assert_eq!(m.values(), &[0.7, 0.5]);
        assert_eq!(arg, vec![2, 0]);
    }

    #[test]
    fn multiply_and_divide_in_place() {
        let mut t = f(&[0, 1], &[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let s = f(&[1], &[2], &[2.0, 0.0]);
        t.multiply_in(&s);
        assert_eq!(t.values(), &[2.0, 0.0, 6.0, 0.0]);
        t.divide_in(&s);
        assert_eq!(t.values(), &[1.0, 0.0, 3.0, 0.0]);
        let p = t.project(&[VarId(1), VarId(0)], Marginal::Max);
        assert_eq!(p.values(), &[1.0, 3.0, 0.0, 0.0]);
    }

    /// Tables above the parallel threshold take the chunked paths; they must agree with
    /// a direct computation entry by entry.
    #[test]
    fn parallel_kernels_match_direct_computation() {
        let cards = [8usize, 16, 32, 40];
        let n: usize = cards.iter().product();
        assert!(n >= PARALLEL_MIN);
        let values: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
            .collect();
        let big = f(&[0, 1, 2, 3], &cards, &values);
        let digits = |mut i: usize| {
            let mut d = [0; 4];
            for k in (0..4).rev() {
                d[k] = i % cards[k];
                i /= cards[k];
            }
            d
        };
        for op in [Marginal::Sum, Marginal::Max] {
            let p = big.project(&[VarId(3), VarId(0)], op);
            let mut expect = vec![
                if op == Marginal::Sum {
                    0.0
                } else {
                    f64::NEG_INFINITY
                };
                40 * 8
            ];
            for (i, &x) in values.iter().enumerate() {
                let d = digits(i);
                let slot = &mut expect[d[3] * 8 + d[0]];
                *slot = if op == Marginal::Sum {
                    *slot + x
                } else {
                    slot.max(x)
                };
            }
            for (a, b) in p.values().iter().zip(&expect) {
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{op:?}: {a} vs {b}"
                );
            }
        }
        let small_values: Vec<f64> = (0..32 * 8).map(|i| 1.0 + i as f64).collect();
        let small = f(&[2, 0], &[32, 8], &small_values);
        let mut product = big.clone();
        product.multiply_in(&small);
        for (i, (&got, &x)) in product.values().iter().zip(&values).enumerate() {
            let d = digits(i);
            assert_eq!(got, x * small_values[d[2] * 8 + d[0]]);
        }
    }
}

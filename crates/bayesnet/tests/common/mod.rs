//! Shared generators and brute-force oracles for the property tests: random small
//! networks, evidence, full-joint enumeration and the exogenous noise cells of the
//! canonical structural model. Each test binary uses a different subset.
#![allow(dead_code)]

use bayesnet::sampling::solve;
use bayesnet::{Assignment, Network, NetworkBuilder, VarId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tolerance of every exact comparison.
pub const TOL: f64 = 1e-12;

/// A random DAG over 2–6 variables with 2–3 states, at most 3 parents each, and CPT rows
/// that include exact zeros and deterministic rows.
pub fn random_network(seed: u64) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rng.gen_range(2..=6);
    let mut b = NetworkBuilder::new("random");
    let mut cards = Vec::new();
    for i in 0..n {
        let k = rng.gen_range(2..=3);
        cards.push(k);
        let states: Vec<String> = (0..k).map(|s| format!("s{s}")).collect();
        b.variable(&format!("v{i}"), &states).unwrap();
    }
    for i in 0..n {
        let mut parents: Vec<usize> = (0..i).filter(|_| rng.gen_bool(0.45)).collect();
        parents.truncate(3);
        let rows: usize = parents.iter().map(|&p| cards[p]).product();
        let mut table = Vec::new();
        for _ in 0..rows {
            let mut w: Vec<f64> = (0..cards[i])
                .map(|_| {
                    if rng.gen_bool(0.2) {
                        0.0
                    } else {
                        rng.gen_range(1..=20) as f64
                    }
                })
                .collect();
            if w.iter().all(|&x| x == 0.0) {
                w[rng.gen_range(0..cards[i])] = 1.0;
            }
            let z: f64 = w.iter().sum();
            table.extend(w.iter().map(|x| x / z));
        }
        let names: Vec<String> = parents.iter().map(|p| format!("v{p}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        b.cpt(&format!("v{i}"), &refs, &table).unwrap();
    }
    b.build().unwrap()
}

/// Every full assignment with its probability.
pub fn joint(net: &Network) -> Vec<(Vec<usize>, f64)> {
    let cards: Vec<usize> = net.ids().map(|v| net.card(v)).collect();
    let total: usize = cards.iter().product();
    (0..total)
        .map(|mut i| {
            let mut states = vec![0; cards.len()];
            for k in (0..cards.len()).rev() {
                states[k] = i % cards[k];
                i /= cards[k];
            }
            let p = net.joint_probability(&states);
            (states, p)
        })
        .collect()
}

pub fn consistent(states: &[usize], a: &Assignment) -> bool {
    a.iter().all(|(v, &s)| states[v.0] == s)
}

/// Brute-force P(v | e) for every v, and P(e), from an explicit joint.
pub fn brute_marginals(
    net: &Network,
    rows: &[(Vec<usize>, f64)],
    e: &Assignment,
) -> (Vec<Vec<f64>>, f64) {
    let mut m: Vec<Vec<f64>> = net.ids().map(|v| vec![0.0; net.card(v)]).collect();
    let mut p_e = 0.0;
    for (states, p) in rows.iter().filter(|(s, _)| consistent(s, e)) {
        p_e += p;
        for (v, &s) in states.iter().enumerate() {
            m[v][s] += p;
        }
    }
    for row in &mut m {
        row.iter_mut().for_each(|x| *x /= p_e);
    }
    (m, p_e)
}

/// Evidence on a random subset, with states either from a forward sample (possible) or
/// arbitrary (possibly impossible).
pub fn random_evidence(net: &Network, rng: &mut ChaCha8Rng) -> Assignment {
    let sample = bayesnet::sampling::sample_forward(net, rng);
    let arbitrary = rng.gen_bool(0.2);
    let mut evidence = Assignment::new();
    for v in net.ids() {
        if rng.gen_bool(0.35) {
            let state = if arbitrary {
                rng.gen_range(0..net.card(v))
            } else {
                sample[v.0]
            };
            evidence.insert(v, state);
        }
    }
    evidence
}

pub fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= TOL)
}

/// The cells [a, b) that the CDF breakpoints of all of `v`'s CPT rows cut [0, 1) into.
/// Within a cell every row's inverse CDF is constant, so `v`'s noise only matters
/// through its cell.
pub fn response_cells(net: &Network, v: VarId) -> Vec<(f64, f64)> {
    let k = net.card(v);
    let mut cuts = vec![0.0, 1.0];
    for row in net.cpt(v).table.chunks(k) {
        let mut acc = 0.0;
        for p in row {
            acc += p;
            cuts.push(acc.min(1.0));
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-15);
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Every joint cell of the exogenous noise (one response cell per node), as the cell's
/// midpoint noise (indexed by `VarId`) and its probability; `None` if there are more than
/// `limit`. Sums over these cells are exact integrals over the continuous noise.
pub fn noise_cells(net: &Network, limit: usize) -> Option<Vec<(Vec<f64>, f64)>> {
    let cells: Vec<Vec<(f64, f64)>> = net.ids().map(|v| response_cells(net, v)).collect();
    let combos = cells
        .iter()
        .try_fold(1usize, |acc, c| acc.checked_mul(c.len()))
        .filter(|&n| n <= limit)?;
    let mut out = Vec::with_capacity(combos);
    let mut index = vec![0usize; net.len()];
    for _ in 0..combos {
        let picked = || index.iter().zip(&cells).map(|(&c, cells)| cells[c]);
        let weight = picked().map(|(a, b)| b - a).product();
        let noise = picked().map(|(a, b)| 0.5 * (a + b)).collect();
        out.push((noise, weight));
        for (i, cells) in index.iter_mut().zip(&cells) {
            *i += 1;
            if *i < cells.len() {
                break;
            }
            *i = 0;
        }
    }
    Some(out)
}

/// The canonical model's counterfactual by exact integration over noise `cells`: each
/// cell's factual world (the crate's own `solve`) is weighted by `evidence_weight` (an
/// indicator for hard evidence, a product of likelihoods for virtual evidence) and its
/// world under do(`intervention`) accumulated. Returns P(V_x = s | e) for every variable
/// and the weighted P(e); the distributions are NaN where P(e) = 0.
pub fn cell_counterfactual(
    net: &Network,
    cells: &[(Vec<f64>, f64)],
    evidence_weight: impl Fn(&[usize]) -> f64,
    intervention: &Assignment,
) -> (Vec<Vec<f64>>, f64) {
    let mut p_e = 0.0;
    let mut cf: Vec<Vec<f64>> = net.ids().map(|v| vec![0.0; net.card(v)]).collect();
    for (noise, weight) in cells {
        let factual = solve(net, noise, &Assignment::new());
        let w = weight * evidence_weight(&factual);
        if w > 0.0 {
            p_e += w;
            let world = solve(net, noise, intervention);
            for (v, &s) in world.iter().enumerate() {
                cf[v][s] += w;
            }
        }
    }
    cf.iter_mut()
        .for_each(|m| m.iter_mut().for_each(|x| *x /= p_e));
    (cf, p_e)
}

/// A random intervention on one or two variables.
pub fn random_intervention(net: &Network, rng: &mut ChaCha8Rng) -> Assignment {
    let count = rng.gen_range(1..=2);
    (0..count)
        .map(|_| {
            let x = VarId(rng.gen_range(0..net.len()));
            (x, rng.gen_range(0..net.card(x)))
        })
        .collect()
}

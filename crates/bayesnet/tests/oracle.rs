//! Property tests: on random small networks every exact query must equal brute-force
//! enumeration of the joint distribution to 1e-12, do() must equal the back-door
//! adjustment formula, and counterfactuals must equal enumeration of the exogenous
//! noise cells of the canonical structural model.

use bayesnet::elimination::{evidence_probability, joint_posterior, DEFAULT_TABLE_LIMIT};
use bayesnet::{
    counterfactual, map, mpe, Assignment, Engine, Error, MonotoneCoupling, Network, NetworkBuilder,
    Query, VarId,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TOL: f64 = 1e-12;

/// A random DAG over 2–6 variables with 2–3 states, at most 3 parents each, and CPT rows
/// that include exact zeros and deterministic rows.
fn random_network(seed: u64) -> Network {
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
fn joint(net: &Network) -> Vec<(Vec<usize>, f64)> {
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

fn consistent(states: &[usize], a: &Assignment) -> bool {
    a.iter().all(|(v, &s)| states[v.0] == s)
}

/// Brute-force P(v | e) for every v, and P(e), from an explicit joint.
fn brute_marginals(
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
fn random_evidence(net: &Network, rng: &mut ChaCha8Rng) -> Assignment {
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

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= TOL)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn marginals_equal_enumeration(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 1);
        let e = random_evidence(&net, &mut rng);
        let rows = joint(&net);
        let (expect, p_e) = brute_marginals(&net, &rows, &e);
        let engine = Engine::new(net.clone());
        let answer = engine.answer(&Query { evidence: e.clone(), ..Query::default() });
        if p_e == 0.0 {
            prop_assert!(matches!(answer, Err(Error::ImpossibleEvidence(_))));
            prop_assert!(evidence_probability(&net, &e, DEFAULT_TABLE_LIMIT).unwrap() == 0.0);
            return Ok(());
        }
        let answer = answer.unwrap();
        prop_assert!((answer.evidence_probability - p_e).abs() <= TOL);
        prop_assert!((evidence_probability(&net, &e, DEFAULT_TABLE_LIMIT).unwrap() - p_e).abs() <= TOL);
        for (v, m) in &answer.marginals {
            prop_assert!(close(m, &expect[v.0]), "junction tree {:?}: {:?} vs {:?}", v, m, expect[v.0]);
            let ve = joint_posterior(&net, &[*v], &e, DEFAULT_TABLE_LIMIT).unwrap();
            prop_assert!(close(&ve.marginal(*v), &expect[v.0]));
        }
        // The same engine (and junction tree) answers a second evidence set exactly.
        let e2 = random_evidence(&net, &mut rng);
        let (expect2, p_e2) = brute_marginals(&net, &rows, &e2);
        if p_e2 > 0.0 {
            let again = engine.answer(&Query { evidence: e2, ..Query::default() }).unwrap();
            prop_assert!((again.evidence_probability - p_e2).abs() <= TOL);
            for (v, m) in &again.marginals {
                prop_assert!(close(m, &expect2[v.0]));
            }
        }
    }

    #[test]
    fn joint_posterior_of_pairs_equals_enumeration(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 2);
        let e = random_evidence(&net, &mut rng);
        let rows = joint(&net);
        let (a, b) = (VarId(rng.gen_range(0..net.len())), VarId(rng.gen_range(0..net.len())));
        prop_assume!(a != b);
        let (_, p_e) = brute_marginals(&net, &rows, &e);
        prop_assume!(p_e > 0.0);
        let post = joint_posterior(&net, &[a, b], &e, DEFAULT_TABLE_LIMIT).unwrap();
        let kb = net.card(b);
        let mut expect = vec![0.0; net.card(a) * kb];
        for (s, p) in rows.iter().filter(|(s, _)| consistent(s, &e)) {
            expect[s[a.0] * kb + s[b.0]] += p / p_e;
        }
        prop_assert!(close(post.joint.values(), &expect));
    }

    #[test]
    fn do_equals_truncated_factorisation_and_backdoor(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 3);
        let x = VarId(rng.gen_range(0..net.len()));
        let xs = rng.gen_range(0..net.card(x));
        let intervention: Assignment = [(x, xs)].into_iter().collect();
        let e = random_evidence(&net, &mut rng);
        prop_assume!(e.get(&x).is_none_or(|&s| s == xs));
        // Truncated factorisation, written out independently of graph surgery.
        let truncated: Vec<(Vec<usize>, f64)> = joint(&net)
            .into_iter()
            .map(|(s, _)| {
                let p = if s[x.0] != xs { 0.0 } else {
                    net.ids().filter(|&v| v != x).map(|v| net.row(v, &s)[s[v.0]]).product()
                };
                (s, p)
            })
            .collect();
        let (expect, p_e) = brute_marginals(&net, &truncated, &e);
        let engine = Engine::new(net.clone());
        let answer = engine.answer(&Query { evidence: e.clone(), intervention: intervention.clone(), ..Query::default() });
        if p_e == 0.0 {
            prop_assert!(matches!(answer, Err(Error::ImpossibleEvidence(_))));
            return Ok(());
        }
        let answer = answer.unwrap();
        prop_assert!((answer.evidence_probability - p_e).abs() <= TOL);
        for (v, m) in &answer.marginals {
            prop_assert!(close(m, &expect[v.0]));
        }
        // Back-door adjustment with the parents of x, on the unintervened joint.
        let rows = joint(&net);
        let pa = net.parents(x).to_vec();
        let y = VarId(rng.gen_range(0..net.len()));
        prop_assume!(y != x && !pa.contains(&y));
        let mut backdoor = vec![0.0; net.card(y)];
        let pa_key = |s: &[usize]| pa.iter().map(|p| s[p.0]).collect::<Vec<_>>();
        let mut p_pa: std::collections::HashMap<Vec<usize>, f64> = Default::default();
        let mut p_x_pa: std::collections::HashMap<Vec<usize>, f64> = Default::default();
        let mut p_y_x_pa: std::collections::HashMap<(Vec<usize>, usize), f64> = Default::default();
        for (s, p) in &rows {
            *p_pa.entry(pa_key(s)).or_default() += p;
            if s[x.0] == xs {
                *p_x_pa.entry(pa_key(s)).or_default() += p;
                *p_y_x_pa.entry((pa_key(s), s[y.0])).or_default() += p;
            }
        }
        for (key, ppa) in &p_pa {
            let pxpa = p_x_pa.get(key).copied().unwrap_or(0.0);
            // Positivity is needed for the formula to be defined.
            prop_assume!(*ppa == 0.0 || pxpa > 0.0);
            if *ppa == 0.0 { continue; }
            for (ys, slot) in backdoor.iter_mut().enumerate() {
                *slot += p_y_x_pa.get(&(key.clone(), ys)).copied().unwrap_or(0.0) / pxpa * ppa;
            }
        }
        let plain = engine.answer(&Query { targets: vec![y], intervention, ..Query::default() }).unwrap();
        prop_assert!(close(&plain.marginals[0].1, &backdoor), "{:?} vs {:?}", plain.marginals[0].1, backdoor);
    }

    #[test]
    fn mpe_and_map_equal_enumeration(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 4);
        let e = random_evidence(&net, &mut rng);
        let rows = joint(&net);
        let best = rows.iter().filter(|(s, _)| consistent(s, &e)).map(|(_, p)| *p).fold(0.0, f64::max);
        match mpe(&net, &e, DEFAULT_TABLE_LIMIT) {
            Err(Error::ImpossibleEvidence(_)) => prop_assert!(best == 0.0),
            Err(other) => prop_assert!(false, "{other}"),
            Ok(found) => {
                prop_assert!((found.probability - best).abs() <= TOL);
                let mut states = vec![0; net.len()];
                for (v, &s) in found.assignment.iter().chain(e.iter()) { states[v.0] = s; }
                prop_assert_eq!(found.assignment.len() + e.len(), net.len());
                prop_assert!((net.joint_probability(&states) - best).abs() <= TOL);
            }
        }
        // MAP over a random subset of the unobserved variables.
        let subset: Vec<VarId> = net.ids().filter(|v| !e.contains_key(v) && rng.gen_bool(0.5)).collect();
        prop_assume!(!subset.is_empty() && best > 0.0);
        let mut sums: std::collections::HashMap<Vec<usize>, f64> = Default::default();
        for (s, p) in rows.iter().filter(|(s, _)| consistent(s, &e)) {
            *sums.entry(subset.iter().map(|v| s[v.0]).collect()).or_default() += p;
        }
        let best_map = sums.values().copied().fold(0.0, f64::max);
        let found = map(&net, &subset, &e, DEFAULT_TABLE_LIMIT).unwrap();
        prop_assert!((found.probability - best_map).abs() <= TOL);
        let key: Vec<usize> = subset.iter().map(|v| found.assignment[v]).collect();
        prop_assert!((sums[&key] - best_map).abs() <= TOL);
    }

    #[test]
    fn counterfactuals_equal_exogenous_enumeration(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 5);
        let cells: Vec<Vec<(f64, f64)>> = net.ids().map(|v| response_cells(&net, v)).collect();
        let combos: usize = cells.iter().map(Vec::len).product();
        prop_assume!(combos <= 50_000);
        let x = VarId(rng.gen_range(0..net.len()));
        let intervention: Assignment = [(x, rng.gen_range(0..net.card(x)))].into_iter().collect();
        let e = random_evidence(&net, &mut rng);
        // Enumerate every cell of every node's uniform noise.
        let mut p_e = 0.0;
        let mut cf: Vec<Vec<f64>> = net.ids().map(|v| vec![0.0; net.card(v)]).collect();
        let mut index = vec![0usize; net.len()];
        for _ in 0..combos {
            let weight: f64 = index.iter().enumerate().map(|(v, &c)| cells[v][c].1 - cells[v][c].0).product();
            let u: Vec<f64> = index.iter().enumerate().map(|(v, &c)| 0.5 * (cells[v][c].0 + cells[v][c].1)).collect();
            let factual = solve(&net, &u, &Assignment::new());
            if consistent(&factual, &e) {
                p_e += weight;
                let world = solve(&net, &u, &intervention);
                for (v, &s) in world.iter().enumerate() { cf[v][s] += weight; }
            }
            for v in 0..net.len() {
                index[v] += 1;
                if index[v] < cells[v].len() { break; }
                index[v] = 0;
            }
        }
        prop_assume!(p_e > 1e-9);
        let answer = counterfactual(&net, &e, &intervention, &[], &MonotoneCoupling).unwrap();
        prop_assert!((answer.evidence_probability - p_e).abs() <= 1e-12);
        for (v, m) in &answer.marginals {
            let expect: Vec<f64> = cf[v.0].iter().map(|x| x / p_e).collect();
            prop_assert!(close(m, &expect), "{:?}: {:?} vs {:?}", v, m, expect);
        }
    }
}

/// The cells [a, b) that the CDF breakpoints of all of `v`'s CPT rows cut [0, 1) into.
fn response_cells(net: &Network, v: VarId) -> Vec<(f64, f64)> {
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

/// The structural model's solution for noise `u`: v = inverse CDF of its row at u[v].
fn solve(net: &Network, u: &[f64], intervention: &Assignment) -> Vec<usize> {
    let mut states = vec![0; net.len()];
    for &v in net.topological_order() {
        if let Some(&s) = intervention.get(&v) {
            states[v.0] = s;
            continue;
        }
        let probs = net.row(v, &states);
        let k = probs.len();
        let mut acc = 0.0;
        states[v.0] = probs
            .iter()
            .position(|p| {
                acc += p;
                u[v.0] < acc
            })
            .unwrap_or(k - 1);
    }
    states
}

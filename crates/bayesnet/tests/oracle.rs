//! Property tests: on random small networks every exact query must equal brute-force
//! enumeration of the joint distribution to 1e-12, do() must equal the back-door
//! adjustment formula, and counterfactuals must equal enumeration of the exogenous
//! noise cells of the canonical structural model.

use bayesnet::elimination::{evidence_probability, joint_posterior, DEFAULT_TABLE_LIMIT};
use bayesnet::{
    counterfactual, map, mpe, Assignment, Engine, Error, MonotoneCoupling, Query, VarId,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;

use common::{
    brute_marginals, cell_counterfactual, close, consistent, joint, noise_cells, random_evidence,
    random_intervention, random_network, TOL,
};

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

    /// The twin network under [`MonotoneCoupling`] is exactly the structural model that
    /// `sampling::solve` runs: abduction keeps the noise cells whose factual world shows
    /// e, and prediction solves those cells again under do(x).
    #[test]
    fn counterfactuals_equal_exogenous_enumeration(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 5);
        let cells = noise_cells(&net, 50_000);
        prop_assume!(cells.is_some());
        let intervention = random_intervention(&net, &mut rng);
        let e = random_evidence(&net, &mut rng);
        let hard = |s: &[usize]| f64::from(u8::from(consistent(s, &e)));
        let (expect, p_e) = cell_counterfactual(&net, &cells.unwrap_or_default(), hard, &intervention);
        prop_assume!(p_e > 1e-9);
        let answer = counterfactual(&net, &e, &intervention, &[], &MonotoneCoupling).unwrap();
        prop_assert!((answer.evidence_probability - p_e).abs() <= TOL);
        for (v, m) in &answer.marginals {
            prop_assert!(close(m, &expect[v.0]), "{:?}: {:?} vs {:?}", v, m, expect[v.0]);
        }
    }
}

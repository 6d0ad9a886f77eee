//! Virtual evidence on random small networks: conditioning on the reading children that
//! `with_likelihoods` adds must equal enumeration of the original joint weighted by the
//! likelihoods (Pearl's virtual evidence), for posteriors and for counterfactuals of the
//! canonical structural model alike.

use bayesnet::{
    counterfactual, with_likelihoods, Assignment, Engine, Error, MonotoneCoupling, Network, Query,
    VarId,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;

use common::{
    cell_counterfactual, close, consistent, joint, noise_cells, random_evidence,
    random_intervention, random_network, TOL,
};

/// One to three readings on random variables (repeats allowed); likelihoods with zeros,
/// one-hot ones, and arbitrary scales.
fn random_readings(net: &Network, rng: &mut ChaCha8Rng) -> Vec<(VarId, Vec<f64>)> {
    (0..rng.gen_range(1..=3))
        .map(|_| {
            let v = VarId(rng.gen_range(0..net.len()));
            let scale = rng.gen_range(0.01..100.0);
            let mut likelihood: Vec<f64> = (0..net.card(v))
                .map(|_| match rng.gen_bool(0.25) {
                    true => 0.0,
                    false => rng.gen_range(0.0..scale),
                })
                .collect();
            let keep = rng.gen_range(0..likelihood.len());
            likelihood[keep] = scale;
            if rng.gen_bool(0.15) {
                likelihood.iter_mut().enumerate().for_each(|(s, l)| {
                    if s != keep {
                        *l = 0.0;
                    }
                });
            }
            (v, likelihood)
        })
        .collect()
}

/// The weight the readings give a full assignment of the original variables:
/// Π L(s) / max L, plus the indicator of the hard evidence.
fn reading_weight(states: &[usize], readings: &[(VarId, Vec<f64>)], hard: &Assignment) -> f64 {
    let indicator = f64::from(u8::from(consistent(states, hard)));
    readings.iter().fold(indicator, |w, (v, l)| {
        w * l[states[v.0]] / l.iter().copied().fold(0.0, f64::max)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn virtual_evidence_equals_weighted_enumeration(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 7);
        let readings = random_readings(&net, &mut rng);
        let hard = random_evidence(&net, &mut rng);
        let (soft, mut evidence) = with_likelihoods(&net, &readings).unwrap();
        prop_assert_eq!(soft.len(), net.len() + readings.len());
        evidence.extend(hard.clone());

        let mut expect: Vec<Vec<f64>> = net.ids().map(|v| vec![0.0; net.card(v)]).collect();
        let mut p_e = 0.0;
        for (states, p) in joint(&net) {
            let w = p * reading_weight(&states, &readings, &hard);
            p_e += w;
            for (v, &s) in states.iter().enumerate() {
                expect[v][s] += w;
            }
        }
        let targets: Vec<VarId> = net.ids().collect();
        let answer = Engine::new(soft).answer(&Query { targets, evidence, ..Query::default() });
        if p_e == 0.0 {
            prop_assert!(matches!(answer, Err(Error::ImpossibleEvidence(_))));
            return Ok(());
        }
        let answer = answer.unwrap();
        prop_assert!((answer.evidence_probability - p_e).abs() <= TOL);
        for (v, m) in &answer.marginals {
            let expect: Vec<f64> = expect[v.0].iter().map(|x| x / p_e).collect();
            prop_assert!(close(m, &expect), "{:?}: {:?} vs {:?}", v, m, expect);
        }
    }

    /// Abduction from soft readings: the twin network of the extended network equals the
    /// canonical structural model's noise cells, each weighted by how well its factual
    /// world explains the readings and the hard evidence.
    #[test]
    fn virtual_counterfactuals_equal_weighted_exogenous_cells(seed in any::<u64>()) {
        let net = random_network(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 8);
        let cells = noise_cells(&net, 50_000);
        prop_assume!(cells.is_some());
        let readings = random_readings(&net, &mut rng);
        let hard = random_evidence(&net, &mut rng);
        let intervention = random_intervention(&net, &mut rng);
        let weight = |s: &[usize]| reading_weight(s, &readings, &hard);
        let (expect, p_e) = cell_counterfactual(&net, &cells.unwrap_or_default(), weight, &intervention);
        prop_assume!(p_e > 1e-9);

        let (soft, mut evidence) = with_likelihoods(&net, &readings).unwrap();
        evidence.extend(hard);
        let targets: Vec<VarId> = net.ids().collect();
        let answer = counterfactual(&soft, &evidence, &intervention, &targets, &MonotoneCoupling).unwrap();
        prop_assert!((answer.evidence_probability - p_e).abs() <= TOL);
        for (v, m) in &answer.marginals {
            prop_assert!(close(m, &expect[v.0]), "{:?}: {:?} vs {:?}", v, m, expect[v.0]);
        }
    }
}

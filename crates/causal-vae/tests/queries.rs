//! Query plumbing against exact distributions: the labels decoded by `condition` and
//! `intervene` are samples of the exact (mutilated) posterior, and counterfactual
//! samples respect the twin network. The model is untrained (the pictures do not
//! matter here), so these run in seconds.

use bayesnet::{Assignment, Engine, Network, Query};
use causal_vae::query::{condition, counterfactual, intervene, Posterior};
use causal_vae::{DataConfig, ModelConfig, RunConfig, TrainedModel};
use nn::train::TrainConfig;
use tch::{Device, Kind, Tensor};

fn untrained() -> TrainedModel {
    let config = RunConfig {
        model: ModelConfig {
            width: 8,
            hidden: 16,
            ..Default::default()
        },
        train: TrainConfig::default(),
        data: DataConfig::default(),
    };
    TrainedModel::new(
        &config,
        bayesnet::examples::fight_scene().unwrap(),
        Device::Cpu,
    )
    .unwrap()
}

/// Every image variable's empirical distribution in `labels` is within 4.5 standard
/// errors (plus a small slack) of the exact posterior.
fn assert_matches(
    net: &Network,
    trained: &TrainedModel,
    labels: &[Vec<i64>],
    posteriors: &[Posterior],
) {
    let n = labels.len() as f64;
    for (k, v) in trained.model.schema().ids().iter().enumerate() {
        let exact = &posteriors
            .iter()
            .find(|p| p.variable == net.variable(*v).name)
            .unwrap()
            .probabilities;
        for (s, &p) in exact.iter().enumerate() {
            let freq = labels.iter().filter(|l| l[k] == s as i64).count() as f64 / n;
            let tolerance = 4.5 * (p * (1.0 - p) / n).sqrt() + 1e-9;
            assert!(
                (freq - p).abs() <= tolerance,
                "{} = {s}: {freq} vs exact {p}",
                net.variable(*v).name
            );
        }
    }
}

#[test]
fn conditioning_samples_the_exact_joint_posterior() {
    let trained = untrained();
    let net = &trained.network;
    let evidence = net
        .assignment(&[
            ("actor", "Satyr"),
            ("actor_type", "Type1"),
            ("reactor", "Golem"),
            ("reactor_type", "Type3"),
        ])
        .unwrap();
    let result = condition(&trained, &evidence, &Assignment::new(), 3000, 7).unwrap();
    assert_eq!(result.generated.images.size(), vec![3000, 3, 64, 64]);
    assert_matches(net, &trained, &result.generated.labels, &result.posteriors);
    // Jointly, not per marginal: the exact P(action, reaction | e) is matched too.
    let schema = trained.model.schema();
    let (action, reaction) = (schema.ids()[2], schema.ids()[5]);
    let engine = Engine::new(net.clone());
    for a in 0..3 {
        for r in 0..4 {
            let mut e = evidence.clone();
            e.insert(action, a);
            e.insert(reaction, r);
            let joint = engine
                .answer(&Query {
                    targets: vec![action],
                    evidence: e,
                    intervention: Assignment::new(),
                })
                .unwrap()
                .evidence_probability
                / result.evidence_probability;
            let freq = result
                .generated
                .labels
                .iter()
                .filter(|l| l[2] == a as i64 && l[5] == r as i64)
                .count() as f64
                / 3000.0;
            assert!(
                (freq - joint).abs() <= 4.5 * (joint * (1.0 - joint) / 3000.0).sqrt() + 1e-9,
                "({a}, {r}): {freq} vs {joint}"
            );
        }
    }
}

#[test]
fn intervening_differs_from_conditioning_as_the_network_says() {
    let trained = untrained();
    let net = &trained.network;
    let attack = net.assignment(&[("action", "Attack")]).unwrap();
    let result = intervene(&trained, &attack, &Assignment::new(), 3000, 3).unwrap();
    assert!(result
        .interventional
        .generated
        .labels
        .iter()
        .all(|l| l[2] == 0));
    assert!(result
        .conditional
        .generated
        .labels
        .iter()
        .all(|l| l[2] == 0));
    assert_matches(
        net,
        &trained,
        &result.interventional.generated.labels,
        &result.interventional.posteriors,
    );
    assert_matches(
        net,
        &trained,
        &result.conditional.generated.labels,
        &result.conditional.posteriors,
    );
    // The tutorial's headline: the actor's attack attribute is informative under
    // conditioning, and stays at its prior under do().
    let p = |posteriors: &[Posterior]| {
        posteriors
            .iter()
            .find(|p| p.variable == "actor_attack")
            .unwrap()
            .probabilities
            .clone()
    };
    let prior = Engine::new(net.clone()).answer(&Query::default()).unwrap();
    let prior_attack = &prior.marginals[net.var("actor_attack").unwrap().0].1;
    let under_do = p(&result.interventional.posteriors);
    for (a, b) in under_do.iter().zip(prior_attack) {
        assert!((a - b).abs() < 1e-12);
    }
    let conditioned = p(&result.conditional.posteriors);
    assert!(
        conditioned
            .iter()
            .zip(&under_do)
            .any(|(a, b)| (a - b).abs() > 0.05),
        "{conditioned:?} vs {under_do:?}"
    );
    // Paired latents: sample i of both sides uses the same z, so identical labels give
    // identical pictures.
    let (i, l) = result
        .interventional
        .generated
        .labels
        .iter()
        .enumerate()
        .find(|(i, l)| **l == result.conditional.generated.labels[*i])
        .unwrap();
    let _ = l;
    let a = result.interventional.generated.images.get(i as i64);
    let b = result.conditional.generated.images.get(i as i64);
    assert!(a.equal(&b));
}

#[test]
fn counterfactual_keeps_non_descendants_and_forces_the_intervention() {
    let trained = untrained();
    let net = &trained.network;
    let schema = trained.model.schema();
    let given = net
        .assignment(&[
            ("actor", "Golem"),
            ("actor_type", "Type2"),
            ("action", "Attack"),
            ("reactor", "Satyr"),
            ("reactor_type", "Type1"),
            ("reaction", "Dying"),
        ])
        .unwrap();
    let taunt = net.assignment(&[("action", "Taunt")]).unwrap();
    let image = Tensor::rand([3, 64, 64], (Kind::Float, Device::Cpu));
    let cf = counterfactual(&trained, &image, &given, &taunt, 500, 5).unwrap();
    assert_eq!(cf.images.size(), vec![3, 3, 64, 64]);
    assert_eq!(
        cf.factual_labels,
        schema.labels_of_states(&{
            let mut s = vec![0; net.len()];
            for (v, x) in &given {
                s[v.0] = *x;
            }
            s
        })
    );
    // The characters are not downstream of the action: they stay; the action is forced.
    for l in cf.samples.labels.iter().chain([&cf.map_labels]) {
        assert_eq!([l[0], l[1], l[3], l[4]], [1, 1, 0, 0]);
        assert_eq!(l[2], 1);
    }
    // The counterfactual reaction's distribution is the twin network's.
    let exact = bayesnet::counterfactual::counterfactual(
        net,
        &given,
        &taunt,
        &[net.var("reaction").unwrap()],
        &bayesnet::counterfactual::MonotoneCoupling,
    )
    .unwrap();
    let reaction = &exact.marginals[0].1;
    let reported = &cf
        .counterfactual
        .iter()
        .find(|p| p.variable == "reaction")
        .unwrap()
        .probabilities;
    for (a, b) in reaction.iter().zip(reported) {
        assert!((a - b).abs() < 1e-12);
    }
    for (s, &p) in reaction.iter().enumerate() {
        let freq = cf
            .samples
            .labels
            .iter()
            .filter(|l| l[5] == s as i64)
            .count() as f64
            / 500.0;
        assert!(
            (freq - p).abs() <= 4.5 * (p * (1.0 - p) / 500.0).sqrt() + 1e-9,
            "reaction {s}: {freq} vs {p}"
        );
    }
    let best = reaction
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(cf.map_labels[5], best as i64);
}

#[test]
fn counterfactual_reads_unlabelled_images_through_the_label_head() {
    let trained = untrained();
    let net = &trained.network;
    let taunt = net.assignment(&[("action", "Taunt")]).unwrap();
    let image = Tensor::rand([3, 64, 64], (Kind::Float, Device::Cpu));
    let cf = counterfactual(&trained, &image, &Assignment::new(), &taunt, 10, 1).unwrap();
    // The untrained head gives soft readings; the factual posteriors are proper
    // distributions and the counterfactual action is forced.
    for p in &cf.factual {
        assert!(
            (p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9,
            "{}",
            p.variable
        );
    }
    let action = cf
        .counterfactual
        .iter()
        .find(|p| p.variable == "action")
        .unwrap();
    assert!(
        (action.probabilities[1] - 1.0).abs() < 1e-12,
        "{:?}",
        action.probabilities
    );
}

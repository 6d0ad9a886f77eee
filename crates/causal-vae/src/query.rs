//! The three rungs of Pearl's ladder as pictures with exact posteriors.
//!
//! - [`condition`]: P(· | e) — image variables sampled *jointly* from the exact
//!   posterior (the tutorial sampled each from its own marginal, which breaks their
//!   joint), z ~ N(0, I), decoded.
//! - [`intervene`]: P(· | do(x), e) from the mutilated network, shown next to
//!   conditioning on the same values, with paired z so the pictures differ only
//!   through the causal variables.
//! - [`counterfactual`]: abduction (z from the encoder; the causal variables from the
//!   given labels, or from the label head q(y | x) as virtual evidence; the exogenous
//!   noise through the twin network), action (do) and prediction (the counterfactual
//!   variables decoded with the *same* z).

use bayesnet::counterfactual::{MonotoneCoupling, TwinNetwork};
use bayesnet::elimination::DEFAULT_TABLE_LIMIT;
use bayesnet::{Assignment, Engine, Network, Query, VarId};
use tch::{Device, Kind, Tensor};

use crate::model::CausalVae;
use crate::training::TrainedModel;
use crate::Result;

/// One variable's exact distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct Posterior {
    pub variable: String,
    pub states: Vec<String>,
    pub probabilities: Vec<f64>,
}

/// Decoded images with the image-variable labels they were decoded from.
#[derive(Debug)]
pub struct Generated {
    /// Labels [n][6] (network state indices of the image variables).
    pub labels: Vec<Vec<i64>>,
    /// Images [n, 3, S, S] in [0, 1] (CPU).
    pub images: Tensor,
}

/// Result of a conditional or interventional query.
#[derive(Debug)]
pub struct Sampled {
    /// P(e) in the network queried (the mutilated one under do()).
    pub evidence_probability: f64,
    /// Exact posterior of every variable.
    pub posteriors: Vec<Posterior>,
    pub generated: Generated,
}

/// Samples `n` scenes from P(· | do(intervention), evidence) and decodes them with
/// z ~ N(0, I) (seeded).
pub fn condition(
    trained: &TrainedModel,
    evidence: &Assignment,
    intervention: &Assignment,
    n: usize,
    seed: u64,
) -> Result<Sampled> {
    let net = &trained.network;
    let answer = Engine::new(net.clone()).answer(&Query {
        targets: Vec::new(),
        evidence: evidence.clone(),
        intervention: intervention.clone(),
    })?;
    let states = bayesnet::sampling::sample(net, n, evidence, intervention, seed)?;
    let schema = trained.model.schema();
    let labels: Vec<Vec<i64>> = states.iter().map(|s| schema.labels_of_states(s)).collect();
    let z = prior_noise(&trained.model, n, seed);
    Ok(Sampled {
        evidence_probability: answer.evidence_probability,
        posteriors: tables(net, answer.marginals),
        generated: decode(&trained.model, &labels, &z),
    })
}

/// The interventional query next to the conditional one with the same values observed.
#[derive(Debug)]
pub struct Intervention {
    pub interventional: Sampled,
    pub conditional: Sampled,
}

/// P(· | do(intervention), evidence) and P(· | intervention, evidence), each with `n`
/// decoded samples; sample i of both uses the same z.
pub fn intervene(
    trained: &TrainedModel,
    intervention: &Assignment,
    evidence: &Assignment,
    n: usize,
    seed: u64,
) -> Result<Intervention> {
    let mut observed = evidence.clone();
    observed.extend(intervention.iter().map(|(v, s)| (*v, *s)));
    Ok(Intervention {
        interventional: condition(trained, evidence, intervention, n, seed)?,
        conditional: condition(trained, &observed, &Assignment::new(), n, seed)?,
    })
}

/// What was read from the image and what would have been.
#[derive(Debug)]
pub struct Counterfactual {
    /// Posterior of every variable in the factual world, given the image (and labels).
    pub factual: Vec<Posterior>,
    /// Distribution of every variable in the counterfactual world.
    pub counterfactual: Vec<Posterior>,
    /// The factual image labels used to encode z (given, else the joint MAP).
    pub factual_labels: Vec<i64>,
    /// The most probable joint counterfactual labels.
    pub map_labels: Vec<i64>,
    /// The input image, its reconstruction, and the counterfactual for `map_labels`,
    /// all from the same z: [3, 3, S, S].
    pub images: Tensor,
    /// `n` samples of the counterfactual joint, decoded with the same z.
    pub samples: Generated,
}

/// Answers "had `intervention` held, what would this image have shown?" for one image
/// [3, S, S] in [0, 1]. `given` holds labels known for the image (any network
/// variables); the image variables not given are read by the label head and enter as
/// virtual evidence.
pub fn counterfactual(
    trained: &TrainedModel,
    image: &Tensor,
    given: &Assignment,
    intervention: &Assignment,
    n: usize,
    seed: u64,
) -> Result<Counterfactual> {
    let model = &trained.model;
    let schema = model.schema();
    let device = trained.vs.device();
    let x = image.unsqueeze(0).to_device(device);
    let probabilities = tch::no_grad(|| model.label_probabilities(&x));
    // Abduction of the causal variables: the label head's reading as likelihoods.
    let readings: Vec<(VarId, Vec<f64>)> = schema
        .ids()
        .iter()
        .zip(&probabilities)
        .filter(|(v, _)| !given.contains_key(v))
        .map(|(v, p)| {
            (
                *v,
                Vec::<f64>::try_from(p.squeeze_dim(0).to_kind(Kind::Double))
                    .expect("a probability vector"),
            )
        })
        .collect();
    let (net, mut evidence) = bayesnet::with_likelihoods(&trained.network, &readings)?;
    evidence.extend(given.iter().map(|(v, s)| (*v, *s)));
    let factual_answer = Engine::new(net.clone()).answer(&Query {
        targets: trained.network.ids().collect(),
        evidence: evidence.clone(),
        intervention: Assignment::new(),
    })?;
    let free: Vec<VarId> = schema
        .ids()
        .iter()
        .copied()
        .filter(|v| !given.contains_key(v))
        .collect();
    let mut factual_states = given.clone();
    if !free.is_empty() {
        factual_states
            .extend(bayesnet::map(&net, &free, &evidence, DEFAULT_TABLE_LIMIT)?.assignment);
    }
    let factual_labels: Vec<i64> = schema
        .ids()
        .iter()
        .map(|v| factual_states[v] as i64)
        .collect();

    // Action and prediction on the twin network (exogenous noise shared by both worlds).
    let twin = TwinNetwork::new(&net, intervention, &MonotoneCoupling)?;
    let world = |v: VarId| twin.counterpart[v.0].unwrap_or(v);
    let targets: Vec<VarId> = trained.network.ids().map(world).collect();
    let cf_answer = Engine::new(twin.network.clone()).answer(&Query {
        targets: targets.clone(),
        evidence: evidence.clone(),
        intervention: Assignment::new(),
    })?;
    let image_targets: Vec<VarId> = schema.ids().iter().map(|&v| world(v)).collect();
    let cf_free: Vec<VarId> = image_targets
        .iter()
        .copied()
        .filter(|v| !evidence.contains_key(v))
        .collect();
    let cf_map = bayesnet::map(&twin.network, &cf_free, &evidence, DEFAULT_TABLE_LIMIT)?.assignment;
    let map_labels: Vec<i64> = image_targets
        .iter()
        .map(|v| {
            cf_map
                .get(v)
                .or_else(|| evidence.get(v))
                .copied()
                .unwrap_or(0) as i64
        })
        .collect();
    let sampled =
        bayesnet::sampling::sample(&twin.network, n, &evidence, &Assignment::new(), seed)?;
    let sample_labels: Vec<Vec<i64>> = sampled
        .iter()
        .map(|s| image_targets.iter().map(|v| s[v.0] as i64).collect())
        .collect();

    // z from the encoder, shared by reconstruction and counterfactuals.
    let z = tch::no_grad(|| {
        let y = schema.one_hot(&schema.label_tensor(std::slice::from_ref(&factual_labels), device));
        model.encode(&x, &y).0
    });
    let trio = decode(
        model,
        &[factual_labels.clone(), map_labels.clone()],
        &z.repeat([2, 1]),
    );
    let images = Tensor::cat(&[image.unsqueeze(0).to_device(Device::Cpu), trio.images], 0);
    let samples = decode(model, &sample_labels, &z.repeat([n as i64, 1]));
    Ok(Counterfactual {
        factual: tables(&trained.network, factual_answer.marginals),
        // The twin's answers, in the order asked, under the original variables.
        counterfactual: tables(
            &trained.network,
            trained
                .network
                .ids()
                .zip(cf_answer.marginals)
                .map(|(v, (_, m))| (v, m))
                .collect(),
        ),
        factual_labels,
        map_labels,
        images,
        samples,
    })
}

/// z ~ N(0, I) for `n` images, reproducible from `seed`.
pub fn prior_noise(model: &CausalVae, n: usize, seed: u64) -> Tensor {
    tch::manual_seed(seed as i64);
    Tensor::randn([n as i64, model.config().z_dim], (Kind::Float, Device::Cpu))
}

/// Decodes `labels` with latents `z` (any device) into CPU images.
pub fn decode(model: &CausalVae, labels: &[Vec<i64>], z: &Tensor) -> Generated {
    let schema = model.schema();
    let images = tch::no_grad(|| {
        let z = z.to_device(model.device());
        let y = schema.one_hot(&schema.label_tensor(labels, model.device()));
        model.decode(&z, &y).to_device(Device::Cpu)
    });
    Generated {
        labels: labels.to_vec(),
        images,
    }
}

fn tables(net: &Network, marginals: Vec<(VarId, Vec<f64>)>) -> Vec<Posterior> {
    marginals
        .into_iter()
        .map(|(v, probabilities)| Posterior {
            variable: net.variable(v).name.clone(),
            states: net.variable(v).states.clone(),
            probabilities,
        })
        .collect()
}

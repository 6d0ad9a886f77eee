//! The probe behind the correlation metrics: an MLP that reads every causal variable
//! from one group of latents. A group is given as a 0/1 mask m over the latents and the
//! probe sees [z ⊙ m, m], so one network serves all groups; the CITRIS reference found
//! this as good as a network per group with a wide enough hidden layer, and far cheaper.
//!
//! Architecture and optimiser as the reference's correlation callback: two tanh layers
//! of `hidden` units, one linear head per variable (here one linear layer holding all
//! heads side by side), AdamW without weight decay at a constant learning rate.

use nn::batches::Batches;
use nn::optim::{AdamW, AdamWConfig};
use nn::train::update;
use tch::nn::{self as tnn, Module, Sequential, VarStore};
use tch::{Device, Kind, Tensor};

use super::factor::Factor;

/// Rows per forward pass when predicting (bounds memory on large evaluation sets).
const PREDICT_CHUNK: i64 = 8192;

/// How the probe is trained.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProbeTraining {
    pub(crate) steps: usize,
    /// Frames per step; each frame is seen through every group.
    pub(crate) batch_size: usize,
    pub(crate) lr: f64,
    pub(crate) seed: u64,
}

/// The trained network.
#[derive(Debug)]
pub(crate) struct Probe {
    vs: VarStore,
    net: Sequential,
}

impl Probe {
    /// A probe for `latents` latents with `outputs` outputs (the factors' slices side
    /// by side); the weights are drawn from libtorch's generator seeded with `seed`.
    pub(crate) fn new(latents: i64, outputs: i64, hidden: i64, device: Device, seed: u64) -> Self {
        tch::manual_seed(seed as i64);
        let vs = VarStore::new(device);
        let p = vs.root();
        let net = tnn::seq()
            .add(tnn::linear(
                &p / "l0",
                2 * latents,
                hidden,
                Default::default(),
            ))
            .add_fn(|x| x.tanh())
            .add(tnn::linear(&p / "l1", hidden, hidden, Default::default()))
            .add_fn(|x| x.tanh())
            .add(tnn::linear(
                &p / "heads",
                hidden,
                outputs,
                Default::default(),
            ));
        Self { vs, net }
    }

    /// Trains on the frames `train` ([n] `i64`) of the standardised latents `z`
    /// ([N, L]), each seen through every group of `masks` ([G, L]), to predict every
    /// factor.
    pub(crate) fn fit(
        &mut self,
        z: &Tensor,
        masks: &Tensor,
        factors: &[Factor],
        train: &Tensor,
        training: ProbeTraining,
    ) {
        let adamw = AdamWConfig {
            weight_decay: 0.0,
            ..AdamWConfig::default()
        };
        let mut optimizer = AdamW::new(&self.vs, adamw);
        let n = train.size()[0] as usize;
        let mut batches = Batches::new(n, training.batch_size, training.seed);
        let groups = masks.size()[0];
        for step in 0..training.steps {
            let rows = train.index_select(0, &batches.indices(step).to_device(train.device()));
            let out = self
                .net
                .forward(&masked_inputs(&z.index_select(0, &rows), masks));
            let losses: Vec<Tensor> = factors
                .iter()
                .map(|f| {
                    let target = repeat_rows(&f.target.index_select(0, &rows), groups);
                    f.loss(&out.narrow(1, f.offset, f.width), &target)
                })
                .collect();
            let loss = Tensor::stack(&losses, 0).sum(Kind::Float);
            // The reference clips nothing.
            update(&mut optimizer, &loss, f64::INFINITY, training.lr);
        }
    }

    /// Outputs for the latents `z` ([n, L]) seen through the single group `mask`
    /// ([1, L]): [n, outputs].
    pub(crate) fn predict(&self, z: &Tensor, mask: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let chunks: Vec<Tensor> = z
                .split(PREDICT_CHUNK, 0)
                .iter()
                .map(|chunk| self.net.forward(&masked_inputs(chunk, mask)))
                .collect();
            Tensor::cat(&chunks, 0)
        })
    }
}

/// [z ⊙ m_g, m_g] for every frame b and group g, frame-major: [B·G, 2L] from z [B, L]
/// and masks [G, L].
fn masked_inputs(z: &Tensor, masks: &Tensor) -> Tensor {
    let (b, l) = z.size2().expect("latents are [B, L]");
    let g = masks.size()[0];
    let masks = masks.unsqueeze(0).expand([b, g, l], false);
    let masked = z.unsqueeze(1) * &masks;
    Tensor::cat(&[masked, masks], 2).reshape([b * g, 2 * l])
}

/// Each row of `t` ([B, c]) repeated `groups` times in a row, matching
/// [`masked_inputs`]' order: [B·G, c].
fn repeat_rows(t: &Tensor, groups: i64) -> Tensor {
    let (b, c) = t.size2().expect("targets are [B, c]");
    t.unsqueeze(1)
        .expand([b, groups, c], false)
        .reshape([b * groups, c])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_pair_each_frame_with_each_masked_group() {
        let z = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6.]).view([2, 3]);
        let masks = Tensor::from_slice(&[1f32, 0., 1., 0., 1., 0.]).view([2, 3]);
        let x = masked_inputs(&z, &masks);
        let rows: Vec<Vec<f32>> = (0..4)
            .map(|i| Vec::<f32>::try_from(x.get(i)).unwrap())
            .collect();
        assert_eq!(rows[0], vec![1., 0., 3., 1., 0., 1.]);
        assert_eq!(rows[1], vec![0., 2., 0., 0., 1., 0.]);
        assert_eq!(rows[2], vec![4., 0., 6., 1., 0., 1.]);
        assert_eq!(rows[3], vec![0., 5., 0., 0., 1., 0.]);
        let t = repeat_rows(&Tensor::from_slice(&[7f32, 8.]).view([2, 1]), 2);
        assert_eq!(
            Vec::<f32>::try_from(t.reshape([-1])).unwrap(),
            vec![7., 7., 8., 8.]
        );
    }
}

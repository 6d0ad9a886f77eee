//! Which network variables the images show, and how labels become model inputs.
//!
//! The VAE conditions on the six image variables (actor, actor_type, action, reactor,
//! reactor_type, reaction) as concatenated one-hot blocks in the *network's* state
//! order; the hidden attributes (strength, attack, defense) stay in the network only,
//! as in the tutorial. A label of −1 marks a missing value (semi-supervised training).

use bayesnet::{Network, VarId};
use scenes::fight::{FightVars, Labels, IMAGE_VARIABLES};
use tch::{Device, Kind, Tensor};

use crate::Result;

/// Marks a missing label.
pub const MISSING: i64 = -1;

/// The image variables of a fight network.
#[derive(Clone, Debug)]
pub struct LabelSchema {
    ids: Vec<VarId>,
    names: Vec<String>,
    cards: Vec<i64>,
    offsets: Vec<i64>,
    vars: FightVars,
    network_len: usize,
}

impl LabelSchema {
    /// The schema of `net`, which must have the six image variables with the fight
    /// scenes' states (the error names what is missing).
    pub fn new(net: &Network) -> Result<Self> {
        let vars = FightVars::new(net)?;
        let mut ids = Vec::new();
        let mut cards = Vec::new();
        let mut offsets = Vec::new();
        let mut offset = 0;
        for (name, _) in IMAGE_VARIABLES {
            let v = net.var(name)?;
            ids.push(v);
            offsets.push(offset);
            let card = net.card(v) as i64;
            cards.push(card);
            offset += card;
        }
        Ok(Self {
            names: IMAGE_VARIABLES.iter().map(|(n, _)| n.to_string()).collect(),
            ids,
            cards,
            offsets,
            vars,
            network_len: net.len(),
        })
    }

    /// Number of image variables (6).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Always false: a schema has its six variables.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Total width of the one-hot encoding (17 for the fight network).
    pub fn width(&self) -> i64 {
        self.cards.iter().sum()
    }

    pub fn ids(&self) -> &[VarId] {
        &self.ids
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn cards(&self) -> &[i64] {
        &self.cards
    }

    /// Where variable `k`'s block starts in the one-hot encoding.
    pub fn offset(&self, k: usize) -> i64 {
        self.offsets[k]
    }

    /// The image labels of a full network state vector (indexed by `VarId`).
    pub fn labels_of_states(&self, states: &[usize]) -> Vec<i64> {
        self.ids.iter().map(|v| states[v.0] as i64).collect()
    }

    /// The scene labels (what the renderer draws) of image labels in network order.
    pub fn scene_labels(&self, labels: &[i64]) -> Labels {
        let mut states = vec![0; self.network_len];
        for (v, &s) in self.ids.iter().zip(labels) {
            states[v.0] = s.max(0) as usize;
        }
        self.vars.labels(&states)
    }

    /// One-hot encoding [B, width] of labels [B, 6]; missing labels give zero blocks.
    pub fn one_hot(&self, labels: &Tensor) -> Tensor {
        let blocks: Vec<Tensor> = (0..self.len())
            .map(|k| self.block_one_hot(&labels.select(1, k as i64), k))
            .collect();
        Tensor::cat(&blocks, 1)
    }

    /// One-hot [B, card_k] of variable `k`'s labels [B] (zeros where missing).
    pub fn block_one_hot(&self, labels: &Tensor, k: usize) -> Tensor {
        let present = labels.ge(0);
        let safe = labels.clamp_min(0);
        safe.one_hot(self.cards[k]).to_kind(Kind::Float) * present.unsqueeze(1).to_kind(Kind::Float)
    }

    /// Labels [n, 6] as a tensor on `device`.
    pub fn label_tensor(&self, rows: &[Vec<i64>], device: Device) -> Tensor {
        let flat: Vec<i64> = rows.iter().flatten().copied().collect();
        Tensor::from_slice(&flat)
            .view([rows.len() as i64, self.len() as i64])
            .to_device(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fight_network_schema() {
        let net = bayesnet::examples::fight_scene().unwrap();
        let schema = LabelSchema::new(&net).unwrap();
        assert_eq!(schema.cards(), &[2, 3, 3, 2, 3, 4]);
        assert_eq!(schema.width(), 17);
        let labels = Tensor::from_slice(&[1i64, 2, 0, MISSING, 1, 3]).view([1, 6]);
        let hot = schema.one_hot(&labels);
        let expected = [
            0., 1., 0., 0., 1., 1., 0., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1.,
        ];
        let got: Vec<f32> = Vec::try_from(hot.view([-1])).unwrap();
        assert_eq!(got, expected.map(|x: f64| x as f32));
    }

    #[test]
    fn labels_round_trip_through_states() {
        let net = bayesnet::examples::fight_scene().unwrap();
        let schema = LabelSchema::new(&net).unwrap();
        let mut states = vec![0; net.len()];
        for (k, v) in schema.ids().iter().enumerate() {
            states[v.0] = (k % schema.cards()[k] as usize) as usize;
        }
        let labels = schema.labels_of_states(&states);
        assert_eq!(
            schema.scene_labels(&labels),
            FightVars::new(&net).unwrap().labels(&states)
        );
    }
}

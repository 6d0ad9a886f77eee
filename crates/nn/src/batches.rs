//! Mini-batch order for training loops.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

/// Epoch-wise shuffled mini-batches whose content depends only on (seed, step), so a
/// resumed run sees exactly the batches an uninterrupted run would.
#[derive(Clone, Debug)]
pub struct Batches {
    n: usize,
    batch: usize,
    seed: u64,
    cached: Option<(usize, Vec<i64>)>,
}

impl Batches {
    pub fn new(n: usize, batch: usize, seed: u64) -> Self {
        Self {
            n,
            batch: batch.min(n).max(1),
            seed,
            cached: None,
        }
    }

    /// Rows per batch (at most the number of rows).
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The indices of training step `step`'s batch.
    pub fn indices(&mut self, step: usize) -> Tensor {
        let per_epoch = (self.n / self.batch).max(1);
        let (epoch, k) = (step / per_epoch, step % per_epoch);
        if self.cached.as_ref().map(|(e, _)| *e) != Some(epoch) {
            let mut order: Vec<i64> = (0..self.n as i64).collect();
            let mut rng =
                ChaCha8Rng::seed_from_u64(self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
            order.shuffle(&mut rng);
            self.cached = Some((epoch, order));
        }
        let order = &self.cached.as_ref().expect("just filled").1;
        Tensor::from_slice(&order[k * self.batch..(k + 1) * self.batch])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_epoch_permutations_fixed_by_seed_and_step() {
        let mut batches = Batches::new(10, 3, 7);
        let epoch: Vec<i64> = (0..3)
            .flat_map(|step| Vec::<i64>::try_from(batches.indices(step)).unwrap())
            .collect();
        let mut sorted = epoch.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 9, "no index twice within an epoch: {epoch:?}");
        let mut fresh = Batches::new(10, 3, 7);
        assert_eq!(
            Vec::<i64>::try_from(fresh.indices(4)).unwrap(),
            Vec::<i64>::try_from(batches.indices(4)).unwrap(),
            "a batch depends only on (seed, step)"
        );
        let other: Vec<i64> = Batches::new(10, 3, 8).indices(0).try_into().unwrap();
        assert_ne!(other, epoch[..3].to_vec(), "the seed matters");
    }
}

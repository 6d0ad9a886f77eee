//! Writes any [`TemporalProcess`] as a data set in the CITRIS file layout, so that
//! CITRIS' own loaders (`experiments/datasets.py`, `Causal3DDataset`) and ours read it.
//!
//! | file | keys (shape, dtype) |
//! |---|---|
//! | `train.npz`, `val.npz`, `test.npz` | one sequence: `imgs` [N,H,W,C] u8, `interventions` [N−1,K] i64 (row t: variables intervened on between frames t and t+1), `raw_latents` [N,D] f32, `shape_latents` [N,S] u8 if the process has them |
//! | `val_indep.npz`, `test_indep.npz` | i.i.d. frames from the initial distribution: same keys, `interventions` [N,K] all ones (every variable drawn afresh, as CITRIS' Pong generator writes; CITRIS' Causal3D loader requires the key) |
//! | `val_triplets.npz`, `test_triplets.npz` | `imgs` [M,3,H,W,C] u8 = (frame a, frame b, render(mix(a, b, mask))), a ≠ b drawn from the val/test sequence; `interventions` [M,K] i32 = mask (1: variable taken from b; never all 0 or all 1 when K ≥ 2), `raw_latents` [M,3,D] f32, `shape_latents` [M,3,S] u8 |
//! | `dataset.json` | the [`Manifest`], written last: its presence means the set is complete |
//!
//! Sizes follow [`SplitCounts::scaled_from`]. Determinism: every random draw happens on
//! the calling thread, in order, from a ChaCha8 stream chosen by the seed and the file;
//! only rendering, a pure function of the state, runs in parallel. The same seed gives
//! byte-identical files on any number of threads.

use std::fs;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::TemporalProcess;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, SplitCounts};
use crate::npz::{Compression, NpzWriter};

/// Frames rendered per parallel batch are capped at about this many bytes of images.
const BATCH_BYTES: usize = 16 << 20;

/// Reported after each batch of rendered frames, e.g. to drive a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgressEvent {
    /// The file being written, e.g. `train.npz`.
    pub file: &'static str,
    /// Frames rendered so far, over all files.
    pub frames_done: usize,
    /// Frames to render over all files (the two source frames of a triplet are copied
    /// from its sequence, not rendered again).
    pub frames_total: usize,
}

/// What to generate.
#[derive(Clone, Copy)]
pub struct DatasetOptions<'a> {
    /// Frames in the training sequence; every other file is sized relative to it.
    pub n_train: usize,
    pub seed: u64,
    /// Uncompressed by default: writing is then I/O-bound, deflate is several times slower.
    pub compression: Compression,
    /// Called on the calling thread after every batch of frames.
    pub progress: Option<&'a dyn Fn(ProgressEvent)>,
}

impl DatasetOptions<'_> {
    /// Uncompressed files, no progress reports.
    pub fn new(n_train: usize, seed: u64) -> Self {
        Self {
            n_train,
            seed,
            compression: Compression::Stored,
            progress: None,
        }
    }
}

/// What [`write_dataset`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSummary {
    /// Every file, in the order written; `dataset.json` last.
    pub files: Vec<PathBuf>,
    pub manifest: Manifest,
}

/// Generates the data set of `process` into the directory `out` (created if needed;
/// existing files of the same names are replaced, each atomically).
pub fn write_dataset(
    process: &dyn TemporalProcess,
    out: &Path,
    options: &DatasetOptions,
) -> Result<DatasetSummary> {
    if options.n_train == 0 {
        return Err(Error::InvalidArgument(
            "the training sequence needs at least one frame".into(),
        ));
    }
    fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let counts = SplitCounts::scaled_from(options.n_train);
    let mut g = Generator::new(process, out, options, counts)?;

    let train = g.simulate(Split::Train)?;
    // Fixed by the first state; `add_latents` checks every other state against it.
    g.shape_columns = process.shape_latents(&train.states[0]).len();
    g.write_sequence(Split::Train, &train, None)?;
    drop(train);
    for (sequence, triplets, independent) in [
        (Split::Val, Split::ValTriplets, Split::ValIndep),
        (Split::Test, Split::TestTriplets, Split::TestIndep),
    ] {
        let simulated = g.simulate(sequence)?;
        let mut frames = Vec::new();
        g.write_sequence(sequence, &simulated, Some(&mut frames))?;
        g.write_triplets(triplets, &simulated.states, &frames)?;
        g.write_independent(independent)?;
    }

    let manifest = Manifest {
        generator: process.name().to_string(),
        causalgen_version: Manifest::CAUSALGEN_VERSION.to_string(),
        seed: options.seed,
        splits: counts,
        image_shape: g.image_shape,
        variables: process.variables(),
        latent_names: process.latent_names(),
        shape_latent_columns: g.shape_columns,
        compressed: options.compression == Compression::Deflated,
    };
    let path = out.join("dataset.json");
    manifest.write(&path)?;
    g.files.push(path);
    Ok(DatasetSummary {
        files: g.files,
        manifest,
    })
}

/// The files of a data set. The discriminants select the random stream of each file, so
/// they are part of the output format and must never change.
#[derive(Clone, Copy, Debug)]
enum Split {
    Train = 0,
    Val = 1,
    Test = 2,
    ValIndep = 3,
    TestIndep = 4,
    ValTriplets = 5,
    TestTriplets = 6,
}

impl Split {
    fn file(self) -> &'static str {
        match self {
            Split::Train => "train.npz",
            Split::Val => "val.npz",
            Split::Test => "test.npz",
            Split::ValIndep => "val_indep.npz",
            Split::TestIndep => "test_indep.npz",
            Split::ValTriplets => "val_triplets.npz",
            Split::TestTriplets => "test_triplets.npz",
        }
    }

    /// Frames (triplets for triplet files) in this file.
    fn count(self, counts: &SplitCounts) -> usize {
        match self {
            Split::Train => counts.train,
            Split::Val => counts.val,
            Split::Test => counts.test,
            Split::ValIndep => counts.val_indep,
            Split::TestIndep => counts.test_indep,
            Split::ValTriplets => counts.val_triplets,
            Split::TestTriplets => counts.test_triplets,
        }
    }

    /// This file's own random stream: independent of every other file's.
    fn rng(self, seed: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(self as u64);
        rng
    }
}

/// A simulated sequence: one state per frame, and the flattened [N−1, K] flags.
struct Sequence {
    states: Vec<Vec<f32>>,
    interventions: Vec<i64>,
}

/// State shared while the files of one data set are written.
struct Generator<'a> {
    process: &'a dyn TemporalProcess,
    out: &'a Path,
    options: &'a DatasetOptions<'a>,
    counts: SplitCounts,
    image_shape: [usize; 3],
    frame_bytes: usize,
    variables: usize,
    /// Which variables triplet masks may take from the second frame.
    intervenable: Vec<bool>,
    latents: usize,
    shape_columns: usize,
    batch_frames: usize,
    frames_done: usize,
    /// Images of the current batch, reused between batches.
    buffer: Vec<u8>,
    files: Vec<PathBuf>,
}

impl<'a> Generator<'a> {
    fn new(
        process: &'a dyn TemporalProcess,
        out: &'a Path,
        options: &'a DatasetOptions<'a>,
        counts: SplitCounts,
    ) -> Result<Self> {
        let image_shape = process.frame_shape();
        let frame_bytes = image_shape.iter().product::<usize>();
        if frame_bytes == 0 {
            return Err(Error::InvalidArgument(format!(
                "process `{}` has empty frames {image_shape:?}",
                process.name()
            )));
        }
        let variables = process.variables().len();
        let intervenable = process.intervenable();
        if intervenable.len() != variables {
            return Err(Error::InvalidArgument(format!(
                "process `{}`: intervenable() has {} flags for {variables} variables",
                process.name(),
                intervenable.len()
            )));
        }
        Ok(Self {
            process,
            out,
            options,
            counts,
            image_shape,
            frame_bytes,
            variables,
            intervenable,
            latents: process.latent_names().len(),
            shape_columns: 0,
            batch_frames: (BATCH_BYTES / frame_bytes).clamp(1, 4096),
            frames_done: 0,
            buffer: Vec::new(),
            files: Vec::new(),
        })
    }

    /// Runs the process for the split's number of frames from an initial state.
    fn simulate(&self, split: Split) -> Result<Sequence> {
        let n = split.count(&self.counts);
        let mut rng = split.rng(self.options.seed);
        let mut states = Vec::with_capacity(n);
        let mut interventions = Vec::with_capacity(n.saturating_sub(1) * self.variables);
        states.push(self.checked(self.process.sample_state(&mut rng), "sample_state")?);
        for previous in 1..n {
            let (next, intervened) = self.process.step(&states[previous - 1], &mut rng);
            if intervened.len() != self.variables {
                return Err(self.contract_error(format!(
                    "step returned {} intervention flags for {} variables",
                    intervened.len(),
                    self.variables
                )));
            }
            interventions.extend(intervened.iter().map(|&b| i64::from(b)));
            states.push(self.checked(next, "step")?);
        }
        Ok(Sequence {
            states,
            interventions,
        })
    }

    /// Writes a sequence file; the rendered frames are also appended to `keep` if given
    /// (the triplets reuse them).
    fn write_sequence(
        &mut self,
        split: Split,
        sequence: &Sequence,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<()> {
        let n = sequence.states.len();
        let mut npz = self.create(split)?;
        let mut images = npz.stream::<u8>("imgs", &self.frames_shape(&[n]))?;
        for batch in sequence.states.chunks(self.batch_frames) {
            self.render(batch);
            images.write(&self.buffer)?;
            if let Some(keep) = keep.as_deref_mut() {
                keep.extend_from_slice(&self.buffer);
            }
            self.advance(split, batch.len());
        }
        images.finish()?;
        npz.add(
            "interventions",
            &[n - 1, self.variables],
            &sequence.interventions,
        )?;
        self.add_latents(&mut npz, &[n], sequence.states.iter().map(Vec::as_slice))?;
        self.finish(npz, split)
    }

    /// Writes independent frames from the initial distribution.
    fn write_independent(&mut self, split: Split) -> Result<()> {
        let n = split.count(&self.counts);
        let mut rng = split.rng(self.options.seed);
        let states = (0..n)
            .map(|_| self.checked(self.process.sample_state(&mut rng), "sample_state"))
            .collect::<Result<Vec<_>>>()?;
        let mut npz = self.create(split)?;
        let mut images = npz.stream::<u8>("imgs", &self.frames_shape(&[n]))?;
        for batch in states.chunks(self.batch_frames) {
            self.render(batch);
            images.write(&self.buffer)?;
            self.advance(split, batch.len());
        }
        images.finish()?;
        npz.add(
            "interventions",
            &[n, self.variables],
            &vec![1i64; n * self.variables],
        )?;
        self.add_latents(&mut npz, &[n], states.iter().map(Vec::as_slice))?;
        self.finish(npz, split)
    }

    /// Writes triplets whose first two frames come from `states`, rendered as `frames`.
    fn write_triplets(&mut self, split: Split, states: &[Vec<f32>], frames: &[u8]) -> Result<()> {
        let m = split.count(&self.counts);
        let mut rng = split.rng(self.options.seed);
        let n = states.len() as u64;
        let mut sources = Vec::with_capacity(m);
        let mut masks = Vec::with_capacity(m * self.variables);
        let mut mixed = Vec::with_capacity(m);
        for _ in 0..m {
            let a = rng.gen_range(0..n);
            let b = match n {
                1 => a,
                _ => {
                    let b = rng.gen_range(0..n - 1);
                    b + u64::from(b >= a)
                }
            };
            let (a, b) = (a as usize, b as usize);
            let mask = random_mask(&mut rng, &self.intervenable);
            mixed.push(self.checked(self.process.mix(&states[a], &states[b], &mask), "mix")?);
            masks.extend(mask.iter().map(|&t| i32::from(t)));
            sources.push((a, b));
        }

        let mut npz = self.create(split)?;
        let mut images = npz.stream::<u8>("imgs", &self.frames_shape(&[m, 3]))?;
        let frame_bytes = self.frame_bytes;
        let frame = |i: usize| &frames[i * frame_bytes..(i + 1) * frame_bytes];
        for (batch_index, batch) in mixed.chunks(self.batch_frames).enumerate() {
            self.render(batch);
            let first = batch_index * self.batch_frames;
            for (third, &(a, b)) in self
                .buffer
                .chunks_exact(self.frame_bytes)
                .zip(&sources[first..])
            {
                images.write(frame(a))?;
                images.write(frame(b))?;
                images.write(third)?;
            }
            self.advance(split, batch.len());
        }
        images.finish()?;
        npz.add("interventions", &[m, self.variables], &masks)?;
        let triplet_states = sources
            .iter()
            .zip(&mixed)
            .flat_map(|(&(a, b), c)| [&states[a], &states[b], c])
            .map(Vec::as_slice);
        self.add_latents(&mut npz, &[m, 3], triplet_states)?;
        self.finish(npz, split)
    }

    /// `raw_latents` and, when the process has them, `shape_latents` of `states`,
    /// with `leading` axes before the per-state one.
    fn add_latents<'s>(
        &self,
        npz: &mut NpzWriter,
        leading: &[usize],
        states: impl Iterator<Item = &'s [f32]> + Clone,
    ) -> Result<()> {
        let raw: Vec<f32> = states
            .clone()
            .flat_map(|s| &s[..self.latents])
            .copied()
            .collect();
        npz.add("raw_latents", &[leading, &[self.latents]].concat(), &raw)?;
        let mut labels = Vec::new();
        for state in states {
            let state_labels = self.process.shape_latents(state);
            if state_labels.len() != self.shape_columns {
                return Err(self.contract_error(format!(
                    "shape_latents returned {} labels for one state and {} for another",
                    state_labels.len(),
                    self.shape_columns
                )));
            }
            labels.extend(state_labels);
        }
        if self.shape_columns > 0 {
            npz.add(
                "shape_latents",
                &[leading, &[self.shape_columns]].concat(),
                &labels,
            )?;
        }
        Ok(())
    }

    /// Renders `states` into `self.buffer`, in parallel.
    fn render(&mut self, states: &[Vec<f32>]) {
        self.buffer.clear();
        self.buffer.resize(states.len() * self.frame_bytes, 0);
        let process = self.process;
        self.buffer
            .par_chunks_mut(self.frame_bytes)
            .zip(states.par_iter())
            .for_each(|(frame, state)| process.render(state, frame));
    }

    fn frames_shape(&self, leading: &[usize]) -> Vec<usize> {
        [leading, &self.image_shape].concat()
    }

    fn create(&self, split: Split) -> Result<NpzWriter> {
        NpzWriter::create(&self.out.join(split.file()), self.options.compression)
    }

    fn finish(&mut self, npz: NpzWriter, split: Split) -> Result<()> {
        npz.finish()?;
        self.files.push(self.out.join(split.file()));
        Ok(())
    }

    fn advance(&mut self, split: Split, frames: usize) {
        self.frames_done += frames;
        if let Some(report) = self.options.progress {
            report(ProgressEvent {
                file: split.file(),
                frames_done: self.frames_done,
                frames_total: self.counts.total(),
            });
        }
    }

    /// `state` if it starts with one value per latent name.
    fn checked(&self, state: Vec<f32>, source: &str) -> Result<Vec<f32>> {
        if state.len() >= self.latents {
            Ok(state)
        } else {
            Err(self.contract_error(format!(
                "{source} returned {} values for {} latent names",
                state.len(),
                self.latents
            )))
        }
    }

    fn contract_error(&self, message: String) -> Error {
        Error::InvalidArgument(format!("process `{}`: {message}", self.process.name()))
    }
}

/// A triplet mask: which variables the third frame takes from the second. Like CITRIS,
/// only variables the process intervenes on are mixed, and the mask is never all-false
/// or all-true over them when there are at least two, so the third frame always differs
/// from both sources in some variable.
fn random_mask(rng: &mut ChaCha8Rng, intervenable: &[bool]) -> Vec<bool> {
    let free = intervenable.iter().filter(|&&i| i).count();
    loop {
        let mask: Vec<bool> = intervenable.iter().map(|&i| i && rng.gen()).collect();
        let taken = mask.iter().filter(|&&t| t).count();
        if free < 2 || (taken > 0 && taken < free) {
            return mask;
        }
    }
}

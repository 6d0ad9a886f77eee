//! The dataset writer: sample the network, draw nuisance, render in parallel, and write
//! the splits, the label table, the network, the manifest and optionally PNGs.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bayesnet::{Assignment, Network};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::json;

use crate::atomic::{write_atomically, AtomicFile};
use crate::error::{Error, Result};
use crate::npz::{Compression, NpzWriter};

use super::png::encode_rgb;
use super::render::render_into;
use super::scene::{FightVars, Labels, Nuisance, IMAGE_VARIABLES};

/// Names of the three splits, in file order.
pub const SPLITS: [&str; 3] = ["train", "val", "test"];

/// Scenes rendered per parallel batch (bounds memory: 512 × 128² × 3 bytes = 25 MB).
const BATCH: usize = 512;

/// What to generate. [`FightOptions::default`] gives 1,000 scenes of 64 × 64 with the
/// default nuisance, split 0.8/0.1/0.1, without PNGs.
#[derive(Clone, Debug, PartialEq)]
pub struct FightOptions {
    /// Number of scenes over all splits.
    pub n: usize,
    /// Image width and height in pixels (16 to 1024).
    pub size: usize,
    /// Seed for the network samples and the nuisance; same seed, same bytes.
    pub seed: u64,
    /// do() assignment applied before sampling (empty: observational samples).
    pub intervention: Assignment,
    /// Nuisance strength: 0 draws every combination of labels the same way.
    pub nuisance: f32,
    /// Train, validation and test fractions; they must sum to 1.
    pub split: [f32; 3],
    /// Also write one PNG per scene under `png/`.
    pub pngs: bool,
}

impl Default for FightOptions {
    fn default() -> Self {
        Self {
            n: 1000,
            size: 64,
            seed: 0,
            intervention: Assignment::new(),
            nuisance: 1.0,
            split: [0.8, 0.1, 0.1],
            pngs: false,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct FightSummary {
    /// Scenes in train, val and test.
    pub counts: [usize; 3],
    /// Image side in pixels.
    pub size: usize,
    /// Every file written (PNGs counted as their folder).
    pub files: Vec<PathBuf>,
}

/// Sampled scenes: the full network state of each (indexed by `VarId`), its image
/// labels and its nuisance values.
#[derive(Clone, Debug)]
pub struct Scenes {
    pub states: Vec<Vec<usize>>,
    pub labels: Vec<Labels>,
    pub nuisance: Vec<Nuisance>,
}

/// The first `count` scenes that [`generate`] would write with `options` (their network
/// states, labels and nuisance), without rendering anything.
pub fn sample_scenes(net: &Network, options: &FightOptions, count: usize) -> Result<Scenes> {
    let vars = check(net, options)?;
    let states = bayesnet::sampling::sample(
        net,
        count,
        &Assignment::new(),
        &options.intervention,
        options.seed,
    )?;
    let labels = states.iter().map(|s| vars.labels(s)).collect();
    let nuisance = (0..count)
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(scene_seed(options.seed, i as u64));
            Nuisance::sample(options.nuisance, &mut rng)
        })
        .collect();
    Ok(Scenes {
        states,
        labels,
        nuisance,
    })
}

/// The seed of scene `index`'s nuisance: a hash of the global seed and the index, so
/// that values never depend on which thread renders what.
fn scene_seed(seed: u64, index: u64) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    splitmix(splitmix(seed ^ 0x6E75_6973_616E_6365).wrapping_add(index))
}

/// Validates options against the network.
fn check(net: &Network, options: &FightOptions) -> Result<FightVars> {
    let bad = |m: String| Err(Error::InvalidArgument(m));
    if !(16..=1024).contains(&options.size) {
        return bad(format!(
            "image size {} is out of range (16 to 1024 pixels)",
            options.size
        ));
    }
    if !options.nuisance.is_finite() || options.nuisance < 0.0 {
        return bad(format!(
            "nuisance strength {} must be a finite number >= 0",
            options.nuisance
        ));
    }
    let [a, b, c] = options.split;
    if options.split.iter().any(|f| !f.is_finite() || *f < 0.0) || (a + b + c - 1.0).abs() > 1e-3 {
        return bad(format!(
            "split fractions {a}, {b}, {c} must be >= 0 and sum to 1"
        ));
    }
    for (&v, &s) in &options.intervention {
        if v.0 >= net.len() || s >= net.card(v) {
            return bad(format!(
                "intervention on variable #{} state #{s} does not fit network `{}`",
                v.0,
                net.name()
            ));
        }
    }
    for v in net.variables() {
        if v.name == "images" || v.name == "nuisance" {
            return bad(format!(
                "network variable `{}` clashes with the array of that name in the .npz files",
                v.name
            ));
        }
    }
    FightVars::new(net)
}

/// Scenes per split: rounded fractions, the test split taking the remainder.
fn split_counts(n: usize, split: [f32; 3]) -> [usize; 3] {
    let train = ((n as f64 * split[0] as f64).round() as usize).min(n);
    let val = ((n as f64 * split[1] as f64).round() as usize).min(n - train);
    [train, val, n - train - val]
}

/// Writes a fight-scene dataset into the folder `out` (created if needed):
///
/// - `train.npz`, `val.npz`, `test.npz`: `images` uint8 `[N, size, size, 3]`, one int64
///   array per network variable (the network's state index, hidden variables included)
///   and `nuisance` float32 `[N, 14]` (columns as in `dataset.json`);
/// - `labels.csv`: every scene with its split, the state labels and nuisance values;
/// - `network.bif`: the network sampled (before any intervention);
/// - `dataset.json`: the manifest (generator, version, seed, counts, size, nuisance,
///   intervention, variables);
/// - `png/NNNNNN.png` when `options.pngs`, named by the `index` column.
///
/// Every file is written under a temporary name and renamed into place. `progress` is
/// called with the number of scenes rendered so far, from the calling thread.
pub fn generate(
    net: &Network,
    out: &Path,
    options: &FightOptions,
    progress: &dyn Fn(usize),
) -> Result<FightSummary> {
    if options.n == 0 {
        return Err(Error::InvalidArgument(
            "the number of scenes must be at least 1".into(),
        ));
    }
    let scenes = sample_scenes(net, options, options.n)?;
    fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let size = options.size;
    let counts = split_counts(options.n, options.split);
    let mut files = Vec::new();

    let png_tmp = out.join(format!(".png.{}.tmp", std::process::id()));
    if options.pngs {
        if png_tmp.exists() {
            remove_dir(&png_tmp)?;
        }
        fs::create_dir(&png_tmp).map_err(|source| Error::Io {
            path: png_tmp.clone(),
            source,
        })?;
    }
    let digits = options.n.saturating_sub(1).to_string().len().max(6);

    let image_bytes = size * size * 3;
    let mut start = 0;
    let mut done = 0;
    for (split, &count) in SPLITS.iter().zip(&counts) {
        let path = out.join(format!("{split}.npz"));
        let range = start..start + count;
        let mut npz = NpzWriter::create(&path, Compression::Stored)?;
        let mut images = npz.stream::<u8>("images", &[count, size, size, 3])?;
        let mut buffer = vec![0u8; BATCH.min(count.max(1)) * image_bytes];
        for batch in range.clone().step_by(BATCH) {
            let end = (batch + BATCH).min(range.end);
            let buf = &mut buffer[..(end - batch) * image_bytes];
            buf.par_chunks_mut(image_bytes)
                .zip(&scenes.labels[batch..end])
                .zip(&scenes.nuisance[batch..end])
                .for_each(|((img, l), n)| render_into(l, n, size, img));
            images.write(buf)?;
            if options.pngs {
                let encoded: Vec<Vec<u8>> = buf
                    .par_chunks(image_bytes)
                    .map(|img| encode_rgb(size, size, img))
                    .collect::<Result<_>>()?;
                for (k, png) in encoded.iter().enumerate() {
                    let p = png_tmp.join(format!("{:0digits$}.png", batch + k));
                    fs::write(&p, png).map_err(|source| Error::Io { path: p, source })?;
                }
            }
            done += end - batch;
            progress(done);
        }
        images.finish()?;
        for v in net.ids() {
            let values: Vec<i64> = scenes.states[range.clone()]
                .iter()
                .map(|s| s[v.0] as i64)
                .collect();
            npz.add(&net.variable(v).name, &[count], &values)?;
        }
        let nuisance: Vec<f32> = scenes.nuisance[range.clone()]
            .iter()
            .flat_map(|n| n.values())
            .collect();
        npz.add("nuisance", &[count, Nuisance::COLUMNS.len()], &nuisance)?;
        npz.finish()?;
        files.push(path);
        start = range.end;
    }

    let path = out.join("labels.csv");
    write_labels_csv(&path, net, &scenes, counts)?;
    files.push(path);

    let path = out.join("network.bif");
    bayesnet::io::write_bif_file(net, &path)?;
    files.push(path);

    if options.pngs {
        let dir = out.join("png");
        if dir.exists() {
            remove_dir(&dir)?;
        }
        fs::rename(&png_tmp, &dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        files.push(dir);
    }

    let path = out.join("dataset.json");
    let manifest = manifest(net, options, counts, options.pngs.then_some(digits));
    let text = serde_json::to_string_pretty(&manifest).expect("JSON values serialise") + "\n";
    write_atomically(&path, text.as_bytes())?;
    files.push(path);

    Ok(FightSummary {
        counts,
        size,
        files,
    })
}

fn remove_dir(dir: &Path) -> Result<()> {
    fs::remove_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// A CSV field, quoted when it needs to be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `labels.csv`: `index`, `split`, every network variable's state label, then the
/// nuisance values.
fn write_labels_csv(path: &Path, net: &Network, scenes: &Scenes, counts: [usize; 3]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    let mut line = String::from("index,split");
    for v in net.variables() {
        line.push(',');
        line.push_str(&field(&v.name));
    }
    for c in Nuisance::COLUMNS {
        line.push(',');
        line.push_str(c);
    }
    line.push('\n');
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    file.write_all(line.as_bytes()).map_err(io)?;
    let labels: Vec<Vec<String>> = net
        .variables()
        .iter()
        .map(|v| v.states.iter().map(|s| field(s)).collect())
        .collect();
    let mut index = 0;
    for (split, &count) in SPLITS.iter().zip(&counts) {
        for _ in 0..count {
            line.clear();
            let _ = write!(line, "{index},{split}");
            for (states, &s) in labels.iter().zip(&scenes.states[index]) {
                line.push(',');
                line.push_str(&states[s]);
            }
            for x in scenes.nuisance[index].values() {
                let _ = write!(line, ",{x}");
            }
            line.push('\n');
            file.write_all(line.as_bytes()).map_err(io)?;
            index += 1;
        }
    }
    file.commit()
}

fn manifest(
    net: &Network,
    options: &FightOptions,
    counts: [usize; 3],
    png_digits: Option<usize>,
) -> serde_json::Value {
    let image_vars: Vec<&str> = IMAGE_VARIABLES.iter().map(|(n, _)| *n).collect();
    let intervention: serde_json::Map<String, serde_json::Value> = options
        .intervention
        .iter()
        .map(|(&v, &s)| {
            let var = net.variable(v);
            (var.name.clone(), json!(var.states[s]))
        })
        .collect();
    let variables: Vec<serde_json::Value> = net
        .variables()
        .iter()
        .map(|v| {
            json!({
                "name": v.name,
                "states": v.states,
                "drawn": image_vars.contains(&v.name.as_str()),
            })
        })
        .collect();
    json!({
        "generator": "fight",
        "causalgen_version": env!("CARGO_PKG_VERSION"),
        "seed": options.seed,
        "n": options.n,
        "counts": {"train": counts[0], "val": counts[1], "test": counts[2]},
        "split": {"train": options.split[0], "val": options.split[1], "test": options.split[2]},
        "size": options.size,
        "image_shape": [options.size, options.size, 3],
        "nuisance": options.nuisance,
        "nuisance_columns": Nuisance::COLUMNS,
        "intervention": intervention,
        "network": {"name": net.name(), "file": "network.bif"},
        "variables": variables,
        "files": {
            "splits": SPLITS.map(|s| format!("{s}.npz")),
            "labels": "labels.csv",
            "pngs": png_digits.map(|d| format!("png/{{index:0{d}}}.png")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_add_up() {
        assert_eq!(split_counts(10, [0.8, 0.1, 0.1]), [8, 1, 1]);
        assert_eq!(split_counts(1, [0.8, 0.1, 0.1]), [1, 0, 0]);
        assert_eq!(split_counts(7, [0.0, 0.5, 0.5]), [0, 4, 3]);
        for n in 0..50 {
            assert_eq!(split_counts(n, [0.33, 0.33, 0.34]).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn scene_seeds_differ_by_index_and_seed() {
        assert_ne!(scene_seed(1, 0), scene_seed(1, 1));
        assert_ne!(scene_seed(1, 0), scene_seed(2, 0));
    }
}

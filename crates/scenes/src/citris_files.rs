//! Readers for the files CITRIS works with, validated on load, so that real Temporal
//! Causal3DIdent data (and our own output, which uses the same layout) can be fed to
//! models and evaluations with every shape and dtype mistake reported up front.
//!
//! Key names differ between CITRIS' released data (`imgs`) and the minimal tutorial
//! samples (`images`, `mask`); each reader accepts both. Intervention flags and masks
//! must hold only 0 and 1.

use std::fmt::Display;
use std::path::Path;

use crate::error::{Error, Result};
use crate::npz::{Array, NpzFile};

/// One temporal sequence: `causal3d.npz`, or `train.npz` / `val.npz` / `test.npz`.
#[derive(Clone, Debug, PartialEq)]
pub struct TemporalSequence {
    /// Frames, [N, height, width, channels] (key `imgs` or `images`).
    pub imgs: Array<u8>,
    /// [N−1, K]: row t flags the variables intervened on between frames t and t+1.
    pub interventions: Option<Array<bool>>,
    /// [N, D] ground-truth latents.
    pub raw_latents: Option<Array<f32>>,
    /// [N, S] integer labels (Causal3DIdent's object shape and material).
    pub shape_latents: Option<Array<u8>>,
}

impl TemporalSequence {
    /// Reads and validates a sequence file.
    pub fn read(path: &Path) -> Result<Self> {
        let mut npz = NpzFile::open(path)?;
        let (imgs_key, imgs) = read_frames(&mut npz)?;
        let n = imgs.shape()[0];
        let interventions = match npz.contains("interventions") {
            true => {
                let flags = read_integer_flags(&mut npz, "interventions")?;
                let note = format!("one row per transition between the {n} frames of `{imgs_key}`");
                check_shape(
                    &npz,
                    "interventions",
                    flags.shape(),
                    &[Axis::Len(n.saturating_sub(1)), Axis::Any("K")],
                    &note,
                )?;
                Some(flags)
            }
            false => None,
        };
        let per_frame = format!("one row per frame of `{imgs_key}`");
        let (raw_latents, shape_latents) =
            read_optional_latents(&mut npz, &[Axis::Len(n)], &per_frame)?;
        Ok(Self {
            imgs,
            interventions,
            raw_latents,
            shape_latents,
        })
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.imgs.shape()[0]
    }

    /// Whether the sequence has no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Triplets for evaluating disentanglement: images (a, b, c) where c was rendered from
/// a's causal variables with those flagged in `mask` taken from b.
#[derive(Clone, Debug, PartialEq)]
pub struct Triplets {
    /// [M, 3, height, width, channels] (key `images` or `imgs`).
    pub images: Array<u8>,
    /// [M, K]: true where c takes the variable from b (key `mask` or `interventions`).
    pub mask: Array<bool>,
    /// [M, 3, D] latents of a, b and c.
    pub raw_latents: Option<Array<f32>>,
    /// [M, 3, S] integer labels of a, b and c.
    pub shape_latents: Option<Array<u8>>,
}

impl Triplets {
    /// Reads and validates a triplet file.
    pub fn read(path: &Path) -> Result<Self> {
        let mut npz = NpzFile::open(path)?;
        let images_key = require_key(&npz, &["images", "imgs"])?;
        let images = npz.read::<u8>(images_key)?;
        let pattern = [
            Axis::Any("M"),
            Axis::Len(3),
            Axis::Any("height"),
            Axis::Any("width"),
            Axis::Any("channels"),
        ];
        check_shape(&npz, images_key, images.shape(), &pattern, "")?;
        let m = images.shape()[0];
        let per_triplet = format!("one row per triplet of `{images_key}`");
        let mask_key = require_key(&npz, &["mask", "interventions"])?;
        let mask = read_integer_flags(&mut npz, mask_key)?;
        check_shape(
            &npz,
            mask_key,
            mask.shape(),
            &[Axis::Len(m), Axis::Any("K")],
            &per_triplet,
        )?;
        let (raw_latents, shape_latents) =
            read_optional_latents(&mut npz, &[Axis::Len(m), Axis::Len(3)], &per_triplet)?;
        Ok(Self {
            images,
            mask,
            raw_latents,
            shape_latents,
        })
    }

    /// Number of triplets.
    pub fn len(&self) -> usize {
        self.images.shape()[0]
    }

    /// Whether there are no triplets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// CITRIS' `data_slider.npz`: frames that move one group of causal factors at a time,
/// used to show how a model's latents respond to each factor.
#[derive(Clone, Debug, PartialEq)]
pub struct SliderFrames {
    /// [N, height, width, channels] (key `imgs` or `images`).
    pub imgs: Array<u8>,
    /// [N, D] (key `raw_latents` or `latents`).
    pub raw_latents: Array<f32>,
    /// [N, S] integer labels.
    pub shape_latents: Option<Array<u8>>,
    /// [N, K]: the factors frame i varies. Stored as float64 in the real file.
    pub interventions: Array<bool>,
}

impl SliderFrames {
    /// Reads and validates a slider file.
    pub fn read(path: &Path) -> Result<Self> {
        let mut npz = NpzFile::open(path)?;
        let (imgs_key, imgs) = read_frames(&mut npz)?;
        let n = imgs.shape()[0];
        let per_frame = format!("one row per frame of `{imgs_key}`");
        let latents_key = require_key(&npz, &["raw_latents", "latents"])?;
        let raw_latents = read_latents(&mut npz, latents_key)?;
        check_shape(
            &npz,
            latents_key,
            raw_latents.shape(),
            &[Axis::Len(n), Axis::Any("D")],
            &per_frame,
        )?;
        let shape_latents = read_optional(
            &mut npz,
            &["shape_latents"],
            read_labels,
            &[Axis::Len(n), Axis::Any("S")],
            &per_frame,
        )?;
        let flags = npz.read_as_f64("interventions")?;
        let interventions = to_flags(&npz, "interventions", flags, 0.0, 1.0)?;
        check_shape(
            &npz,
            "interventions",
            interventions.shape(),
            &[Axis::Len(n), Axis::Any("K")],
            &per_frame,
        )?;
        Ok(Self {
            imgs,
            raw_latents,
            shape_latents,
            interventions,
        })
    }
}

/// The frames of a sequence file (key `imgs` or `images`), [N, height, width, channels].
fn read_frames(npz: &mut NpzFile) -> Result<(&'static str, Array<u8>)> {
    let key = require_key(npz, &["imgs", "images"])?;
    let imgs = npz.read::<u8>(key)?;
    let pattern = [
        Axis::Any("N"),
        Axis::Any("height"),
        Axis::Any("width"),
        Axis::Any("channels"),
    ];
    check_shape(npz, key, imgs.shape(), &pattern, "")?;
    Ok((key, imgs))
}

/// One axis of an expected shape.
#[derive(Clone, Copy)]
enum Axis {
    /// Exactly this length.
    Len(usize),
    /// Any length; the name is shown in errors.
    Any(&'static str),
}

fn format_error(npz: &NpzFile, message: String) -> Error {
    Error::Format {
        path: npz.path().to_path_buf(),
        message,
    }
}

/// Errors unless `shape` matches `expected`; `note` says why, if not obvious.
fn check_shape(
    npz: &NpzFile,
    key: &str,
    shape: &[usize],
    expected: &[Axis],
    note: &str,
) -> Result<()> {
    let fits = shape.len() == expected.len()
        && shape.iter().zip(expected).all(|(&d, axis)| match axis {
            Axis::Len(n) => d == *n,
            Axis::Any(_) => true,
        });
    if fits {
        return Ok(());
    }
    let pattern: Vec<String> = expected
        .iter()
        .map(|axis| match axis {
            Axis::Len(n) => n.to_string(),
            Axis::Any(name) => name.to_string(),
        })
        .collect();
    let note = if note.is_empty() {
        String::new()
    } else {
        format!(" ({note})")
    };
    Err(format_error(
        npz,
        format!(
            "`{key}` has shape {shape:?}, expected [{}]{note}",
            pattern.join(", ")
        ),
    ))
}

/// The first of `candidates` present in the archive.
fn require_key(npz: &NpzFile, candidates: &[&'static str]) -> Result<&'static str> {
    find_key(npz, candidates).ok_or_else(|| {
        let wanted: Vec<String> = candidates.iter().map(|k| format!("`{k}`")).collect();
        format_error(
            npz,
            format!(
                "key {} missing (keys: {})",
                wanted.join(" or "),
                npz.keys().join(", ")
            ),
        )
    })
}

fn find_key(npz: &NpzFile, candidates: &[&'static str]) -> Option<&'static str> {
    candidates.iter().copied().find(|k| npz.contains(k))
}

/// Reads the first of `candidates` present with `read` and checks its shape; `None`
/// if none is present.
fn read_optional<T>(
    npz: &mut NpzFile,
    candidates: &[&'static str],
    read: fn(&mut NpzFile, &str) -> Result<Array<T>>,
    expected: &[Axis],
    note: &str,
) -> Result<Option<Array<T>>> {
    let Some(key) = find_key(npz, candidates) else {
        return Ok(None);
    };
    let array = read(npz, key)?;
    check_shape(npz, key, array.shape(), expected, note)?;
    Ok(Some(array))
}

/// `raw_latents` and `shape_latents`, each present or not.
type OptionalLatents = (Option<Array<f32>>, Option<Array<u8>>);

/// Optional `raw_latents` [.., D] and `shape_latents` [.., S], both with the `leading`
/// axes of the images they describe.
fn read_optional_latents(
    npz: &mut NpzFile,
    leading: &[Axis],
    note: &str,
) -> Result<OptionalLatents> {
    let with = |last: Axis| -> Vec<Axis> { leading.iter().copied().chain([last]).collect() };
    let raw = read_optional(
        npz,
        &["raw_latents"],
        read_latents,
        &with(Axis::Any("D")),
        note,
    )?;
    let shape = read_optional(
        npz,
        &["shape_latents"],
        read_labels,
        &with(Axis::Any("S")),
        note,
    )?;
    Ok((raw, shape))
}

/// Latents as `f32`, from any numeric dtype (CITRIS writes float32).
fn read_latents(npz: &mut NpzFile, key: &str) -> Result<Array<f32>> {
    let wide = npz.read_as_f64(key)?;
    let shape = wide.shape().to_vec();
    Array::new(
        shape,
        wide.into_data().into_iter().map(|v| v as f32).collect(),
    )
}

/// Integer labels that must fit a byte (CITRIS writes uint8).
fn read_labels(npz: &mut NpzFile, key: &str) -> Result<Array<u8>> {
    let wide = npz.read_as_i64(key)?;
    let shape = wide.shape().to_vec();
    let labels = wide
        .into_data()
        .into_iter()
        .map(|v| {
            u8::try_from(v).map_err(|_| {
                format_error(
                    npz,
                    format!("`{key}` holds {v}, expected labels in 0..=255"),
                )
            })
        })
        .collect::<Result<_>>()?;
    Array::new(shape, labels)
}

/// 0/1 flags stored with an integer dtype (int64 interventions, int32 masks).
fn read_integer_flags(npz: &mut NpzFile, key: &str) -> Result<Array<bool>> {
    let values = npz.read_as_i64(key)?;
    to_flags(npz, key, values, 0, 1)
}

/// Converts `values` to flags, rejecting anything but `zero` and `one`.
fn to_flags<T: Copy + PartialEq + Display>(
    npz: &NpzFile,
    key: &str,
    values: Array<T>,
    zero: T,
    one: T,
) -> Result<Array<bool>> {
    let shape = values.shape().to_vec();
    let flags = values
        .into_data()
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            v if v == zero => Ok(false),
            v if v == one => Ok(true),
            v => Err(format_error(
                npz,
                format!("`{key}` holds {v} at flat index {i}, expected only 0 and 1"),
            )),
        })
        .collect::<Result<_>>()?;
    Array::new(shape, flags)
}

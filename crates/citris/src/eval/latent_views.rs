//! Pictures of what a model's latents mean, for any [`Representation`] and an explicit
//! assignment of latents to causal variables (per latent, its variable 0..K, or K for
//! none):
//!
//! - **Latent interventions** ("rotate the teapot", as in the CITRIS paper and its
//!   tutorial): encode frames, overwrite only the latents of one variable — with other
//!   frames' encodings ([`LatentIntervention::Draws`]) or with a sweep across their
//!   typical range ([`LatentIntervention::Traversal`]) — and decode. For a disentangled
//!   model only that variable changes in the pictures; [`write_intervention_grid`] lays
//!   them out next to the inputs and their reconstructions.
//! - **Latent responses** to a slider file (frames that change one causal factor at a
//!   time, CITRIS' `data_slider.npz`): how far each group of latents moves from its
//!   sweep's first frame ([`latent_response`]). For a good model only the changed
//!   factor's group moves; [`LatentResponse::write_png`] draws one bar chart per frame.

use std::path::Path;

use scenes::citris_files::SliderFrames;
use scenes::fight::{tile_sheet, RgbImage, Tile};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::data::to_frames;
use crate::representation::{decode_latents, encode_frames, Representation};
use crate::{Error, Result};

use super::correlation::{csv_field, NONE_GROUP};

/// Frames encoded or decoded per forward pass.
const BATCH: i64 = 64;
/// Pictures are magnified to at least this many pixels, so that the captions underneath
/// are drawn at twice the font's size (16 characters a line).
const TILE_PIXELS: usize = 128;
/// A latent's change is divided by at least this: a latent (nearly) constant over the
/// pool would otherwise turn decoder-irrelevant jitter into a huge response.
const MIN_LATENT_STD: f64 = 1e-2;
/// Bar charts per row of the response sheet (a slider sweep has 10 frames).
const CHART_COLUMNS: usize = 10;
/// Side of a bar chart before magnification, at least (wider with many groups).
const CHART_PIXELS: usize = 64;
/// Background of charts and legend tiles, the sheet's own.
const BACKGROUND: [u8; 3] = [32, 32, 32];
/// The charts' baseline.
const AXIS: [u8; 3] = [160, 160, 160];
/// Bar colours of the variables' groups (Tableau 10), cycled.
const PALETTE: [[u8; 3]; 10] = [
    [78, 121, 167],
    [242, 142, 43],
    [225, 87, 89],
    [118, 183, 178],
    [89, 161, 79],
    [237, 201, 72],
    [176, 122, 161],
    [255, 157, 167],
    [156, 117, 95],
    [186, 176, 172],
];
/// Bar colour of the none group.
const NONE_COLOUR: [u8; 3] = [110, 110, 110];

/// What to write into one variable's latents.
#[derive(Debug)]
pub enum LatentIntervention {
    /// The variable's latents of S other frames: `values` [S, L] are encodings (e.g. of
    /// the independent split), and result s takes the variable's latents from row s.
    Draws { values: Tensor },
    /// A sweep in `steps` equal steps from mean − range·std to mean + range·std of
    /// each of the variable's latents, all moved together; mean and std (population)
    /// are per latent over `pool` [M, L] (encodings of typical frames). One step is
    /// the mean.
    Traversal {
        steps: usize,
        range: f64,
        pool: Tensor,
    },
}

impl LatentIntervention {
    /// The S replacement latent vectors [S, L] (`f32`, CPU); only the intervened
    /// variable's columns are used.
    fn values(&self, latents: i64) -> Result<Tensor> {
        let values = match self {
            Self::Draws { values } => {
                check_latent_table("the draws", values, latents)?;
                values.to_kind(Kind::Float).to_device(Device::Cpu)
            }
            Self::Traversal { steps, range, pool } => {
                check_latent_table("the traversal's pool", pool, latents)?;
                let pool = pool.to_kind(Kind::Float).to_device(Device::Cpu);
                let mean = pool.mean_dim(0, true, Kind::Float);
                let std = pool.std_dim(0, false, true);
                let offsets = Tensor::from_slice(&traversal_offsets(*steps, *range)?)
                    .to_kind(Kind::Float)
                    .unsqueeze(1);
                mean + offsets * std
            }
        };
        Ok(values)
    }

    /// Captions of the S results, naming the variable and the draw or step.
    pub fn captions(&self, variable: &str) -> Result<Vec<Vec<String>>> {
        Ok(match self {
            Self::Draws { values } => (0..values.size()[0])
                .map(|s| vec![format!("{variable} from"), format!("draw {s}")])
                .collect(),
            Self::Traversal { steps, range, .. } => traversal_offsets(*steps, *range)?
                .into_iter()
                .map(|t| vec![variable.to_string(), format!("{t:+.1} sd")])
                .collect(),
        })
    }
}

/// A traversal's steps in pool standard deviations, ascending from −range to +range.
fn traversal_offsets(steps: usize, range: f64) -> Result<Vec<f64>> {
    if steps == 0 || !range.is_finite() || range < 0.0 {
        return Err(Error::Invalid(format!(
            "a traversal needs at least 1 step and a finite range ≥ 0 (got {steps} steps, \
             range {range})"
        )));
    }
    Ok(match steps {
        1 => vec![0.0],
        _ => (0..steps)
            .map(|k| range * (2.0 * k as f64 / (steps - 1) as f64 - 1.0))
            .collect(),
    })
}

/// Decodes `images` (`u8` [N, C, H, W], the model's channels) with the latents of
/// `variable` replaced as `how` says and all other latents the image's own: `u8` [N, S,
/// C, H, W] on the CPU. `assignment` has one entry per latent. A variable without
/// latents is an error, as nothing could change.
pub fn intervene(
    model: &dyn Representation,
    images: &Tensor,
    assignment: &[usize],
    variable: usize,
    how: &LatentIntervention,
) -> Result<Tensor> {
    let [n, c, h, w] = frame_shape("images", images)?;
    let z = encode_frames(model, images, BATCH).to_kind(Kind::Float);
    let l = z.size()[1];
    check_assignment(assignment, l)?;
    if !assignment.contains(&variable) {
        return Err(Error::Invalid(format!(
            "no latent is assigned to variable {variable}: there is nothing to intervene on"
        )));
    }
    let mask: Vec<bool> = assignment.iter().map(|&a| a == variable).collect();
    let mask = Tensor::from_slice(&mask);
    let values = how.values(l)?;
    let s = values.size()[0];
    // [S, L] over [N, 1, L]: the variable's columns from the values, the rest own.
    let mixed = values.unsqueeze(0).where_self(&mask, &z.unsqueeze(1));
    let decoded = decode_latents(model, &mixed.reshape([n * s, l]), BATCH);
    Ok(to_frames(&decoded).view([n, s, c, h, w]))
}

/// `images` (`u8` [N, C, H, W]) encoded and decoded: what the model makes of them
/// without intervention, `u8` on the CPU.
pub fn reconstruct(model: &dyn Representation, images: &Tensor) -> Result<Tensor> {
    frame_shape("images", images)?;
    let z = encode_frames(model, images, BATCH);
    Ok(to_frames(&decode_latents(model, &z, BATCH)))
}

/// Writes a PNG sheet with one row per input image: the original, its reconstruction,
/// then its S intervened decodings (`results` [N, S, C, H, W] from [`intervene`]),
/// captioned by `captions` (S entries, e.g. [`LatentIntervention::captions`]). Frames
/// are `u8` with 1 (grey), 3 or 4 (alpha dropped) channels.
pub fn write_intervention_grid(
    path: &Path,
    originals: &Tensor,
    reconstructions: &Tensor,
    results: &Tensor,
    captions: &[Vec<String>],
) -> Result<RgbImage> {
    let shape = frame_shape("originals", originals)?;
    let [n, c, h, w] = shape;
    if frame_shape("reconstructions", reconstructions)? != shape {
        return Err(Error::Invalid(format!(
            "reconstructions are {:?} but the originals {:?}",
            reconstructions.size(),
            originals.size()
        )));
    }
    let s = captions.len() as i64;
    if results.size() != [n, s, c, h, w] {
        return Err(Error::Invalid(format!(
            "intervention results are {:?}; expected [{n}, {s}, {c}, {h}, {w}] for {n} \
             originals and {s} captions",
            results.size()
        )));
    }
    // Row-major: per input, original, reconstruction, then the S results.
    let rows: Vec<Tensor> = (0..n)
        .map(|i| {
            Tensor::cat(
                &[
                    originals.narrow(0, i, 1),
                    reconstructions.narrow(0, i, 1),
                    results.get(i),
                ],
                0,
            )
        })
        .collect();
    let captions: Vec<Vec<String>> = (0..n)
        .flat_map(|i| {
            [vec![format!("input {i}")], vec!["reconstruction".into()]]
                .into_iter()
                .chain(captions.iter().cloned())
        })
        .collect();
    let tiles = frame_tiles(&Tensor::cat(&rows, 0), captions)?;
    write_sheet(path, &tiles, h as usize, s as usize + 2)
}

/// `frames` (`u8` [N, C, H, W]) with `channels` channels, as a model takes them: as
/// they are when the counts agree, without the alpha channel for RGBA frames and a
/// 3-channel model (CITRIS' Causal3DIdent files are RGBA), an error otherwise.
pub fn frames_for_model(frames: &Tensor, channels: i64) -> Result<Tensor> {
    let [_, c, _, _] = frame_shape("frames", frames)?;
    match (c, channels) {
        _ if c == channels => Ok(frames.shallow_clone()),
        (4, 3) => Ok(frames.narrow(1, 0, 3)),
        _ => Err(Error::Invalid(format!(
            "frames have {c} channels but the model takes {channels} (only the alpha \
             channel of 4-channel frames can be dropped for a 3-channel model)"
        ))),
    }
}

/// Frames that change one causal factor at a time, with the frame each one's change is
/// measured from.
#[derive(Debug)]
pub struct Slider {
    /// `u8` [N, C, H, W].
    pub frames: Tensor,
    /// Per frame, its reference frame (at most its own index).
    pub reference: Vec<usize>,
}

impl Slider {
    /// Reads a slider file (`SliderFrames`: e.g. CITRIS' `data_slider.npz`) for a
    /// model with `channels` channels (see [`frames_for_model`]). The file holds
    /// several sweeps back to back, each a run of frames with the same intervention
    /// flags; a frame's reference is the first frame of its sweep, since the sweeps
    /// start from different scenes (measured from frame 0, every later sweep would
    /// show the earlier sweeps' factors moving too).
    pub fn read(path: &Path, channels: i64) -> Result<Self> {
        let file = SliderFrames::read(path)?;
        let shape: Vec<i64> = file.imgs.shape().iter().map(|&d| d as i64).collect();
        let frames = Tensor::from_slice(file.imgs.data())
            .view(shape.as_slice())
            .permute([0, 3, 1, 2])
            .contiguous();
        let frames = frames_for_model(&frames, channels).map_err(|e| Error::Data {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let flags = &file.interventions;
        let mut reference: Vec<usize> = Vec::with_capacity(flags.shape()[0]);
        for i in 0..flags.shape()[0] {
            let same_sweep = i > 0 && flags.row(i - 1) == flags.row(i);
            reference.push(if same_sweep { reference[i - 1] } else { i });
        }
        Ok(Self { frames, reference })
    }

    /// `frames` (`u8` [N, C, H, W]) as a single sweep, every change measured from the
    /// first frame.
    pub fn single_sweep(frames: Tensor) -> Self {
        let n = frames.size()[0] as usize;
        Self {
            frames,
            reference: vec![0; n],
        }
    }
}

/// How much each group of latents moves over a slider's frames.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatentResponse {
    /// The K variables' groups, then [`NONE_GROUP`].
    pub groups: Vec<String>,
    /// Number of frames.
    pub frames: usize,
    /// Per frame, the frame its change is measured from.
    pub reference: Vec<usize>,
    /// [frames][groups]: the mean over the group's latents of |z_frame − z_reference|,
    /// each latent's change divided by its std over the pool; 0 for a group without
    /// latents.
    pub change: Vec<Vec<f64>>,
}

/// Encodes the slider's frames and measures, per frame and group, how far the group's
/// latents moved from the reference frame, in units of each latent's standard
/// deviation (population, at least [`MIN_LATENT_STD`]) over `pool` ([M, L] encodings
/// of typical frames, e.g. the independent split; `None`: the slider's own encodings).
/// The pool's std rather than the largest change over the frames, so that a group that
/// barely moves shows short bars instead of being blown up to full height.
/// `variables` names the K variables; `assignment` gives per latent its variable or K.
pub fn latent_response(
    model: &dyn Representation,
    slider: &Slider,
    assignment: &[usize],
    variables: &[String],
    pool: Option<&Tensor>,
) -> Result<LatentResponse> {
    let [n, ..] = frame_shape("slider frames", &slider.frames)?;
    let n = n as usize;
    if slider.reference.len() != n || slider.reference.iter().enumerate().any(|(i, &r)| r > i) {
        return Err(Error::Invalid(format!(
            "a slider of {n} frames needs {n} references, each to an earlier frame or \
             itself (got {:?})",
            slider.reference
        )));
    }
    let z = encode_frames(model, &slider.frames, BATCH);
    let l = z.size()[1];
    check_assignment(assignment, l)?;
    let k = variables.len();
    if let Some(&a) = assignment.iter().find(|&&a| a > k) {
        return Err(Error::Invalid(format!(
            "the assignment names variable {a} but only {k} variables (0..{k}, {k} for \
             none) are named"
        )));
    }
    let std = match pool {
        Some(pool) => {
            check_latent_table("the pool", pool, l)?;
            pool.to_kind(Kind::Double).std_dim(0, false, false)
        }
        None => z.to_kind(Kind::Double).std_dim(0, false, false),
    };
    let std: Vec<f64> = rows(&std.unsqueeze(0)).remove(0);
    let z = rows(&z);
    let change = (0..n)
        .map(|f| {
            let reference = &z[slider.reference[f]];
            (0..=k)
                .map(|g| {
                    let moved: Vec<f64> = (0..l as usize)
                        .filter(|&j| assignment[j] == g)
                        .map(|j| (z[f][j] - reference[j]).abs() / std[j].max(MIN_LATENT_STD))
                        .collect();
                    match moved.len() {
                        0 => 0.0,
                        m => moved.iter().sum::<f64>() / m as f64,
                    }
                })
                .collect()
        })
        .collect();
    let mut groups = variables.to_vec();
    groups.push(NONE_GROUP.into());
    Ok(LatentResponse {
        groups,
        frames: n,
        reference: slider.reference.clone(),
        change,
    })
}

impl LatentResponse {
    /// Writes the response as CSV: a header `frame,reference,<groups>`, then one row
    /// per frame.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut text = ["frame", "reference"]
            .into_iter()
            .chain(self.groups.iter().map(String::as_str))
            .map(csv_field)
            .collect::<Vec<_>>()
            .join(",");
        text.push('\n');
        for (f, row) in self.change.iter().enumerate() {
            text.push_str(&format!("{f},{}", self.reference[f]));
            for v in row {
                text.push_str(&format!(",{v:.6}"));
            }
            text.push('\n');
        }
        nn::run_dir::write_atomically(path, text.as_bytes())?;
        Ok(())
    }

    /// Writes a PNG sheet: a legend (one colour per group), then one bar chart per
    /// frame (bars = groups, all charts on one scale: the largest change), captioned
    /// with the frame, its reference and the group that moved most.
    pub fn write_png(&self, path: &Path) -> Result<RgbImage> {
        let groups = self.groups.len();
        let size = CHART_PIXELS.max(2 * groups + 8);
        let scale = self
            .change
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let scale = if scale > 0.0 { scale } else { 1.0 };
        let mut tiles: Vec<Tile> = (0..groups)
            .map(|g| Tile {
                pixels: filled(size, group_colour(g, groups)),
                caption: vec![self.groups[g].clone()],
            })
            .collect();
        // Pad the legend to whole rows, so that charts start on a row of their own.
        while tiles.len() % CHART_COLUMNS != 0 {
            tiles.push(Tile {
                pixels: filled(size, BACKGROUND),
                caption: Vec::new(),
            });
        }
        for (f, row) in self.change.iter().enumerate() {
            let top = row
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0)
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or("no change".to_string(), |(g, v)| {
                    format!("{} {v:.2}", self.groups[g])
                });
            tiles.push(Tile {
                pixels: bar_chart(row, scale, size),
                caption: vec![format!("frame {f} vs {}", self.reference[f]), top],
            });
        }
        write_sheet(path, &tiles, size, CHART_COLUMNS)
    }
}

/// A `size`² RGB bar chart of `values` (one bar per group, in the group's colour),
/// bar heights relative to `scale`.
fn bar_chart(values: &[f64], scale: f64, size: usize) -> Vec<u8> {
    let mut pixels = filled(size, BACKGROUND);
    let (margin, base) = (4, size - 4);
    let slot = (size - 2 * margin) / values.len().max(1);
    let plot_height = (base - margin) as f64;
    let mut fill = |x0: usize, x1: usize, y0: usize, y1: usize, rgb: [u8; 3]| {
        for y in y0..y1 {
            for x in x0..x1 {
                pixels[(y * size + x) * 3..(y * size + x) * 3 + 3].copy_from_slice(&rgb);
            }
        }
    };
    for (g, &v) in values.iter().enumerate() {
        let ratio = if v.is_finite() {
            (v / scale).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let height = (ratio * plot_height).round() as usize;
        let x0 = margin + g * slot;
        let width = slot.saturating_sub(1).max(1);
        fill(
            x0,
            x0 + width,
            base - height,
            base,
            group_colour(g, values.len()),
        );
    }
    fill(margin, size - margin, base, base + 1, AXIS);
    pixels
}

/// The colour of group `g` of `groups` (the last is the none group).
fn group_colour(g: usize, groups: usize) -> [u8; 3] {
    if g + 1 == groups {
        NONE_COLOUR
    } else {
        PALETTE[g % PALETTE.len()]
    }
}

/// A `size`² picture in one colour.
fn filled(size: usize, rgb: [u8; 3]) -> Vec<u8> {
    rgb.repeat(size * size)
}

/// Frames (`u8` [N, C, H, W], square, 1, 3 or 4 channels) as RGB tiles.
fn frame_tiles(frames: &Tensor, captions: Vec<Vec<String>>) -> Result<Vec<Tile>> {
    let [n, c, h, w] = frame_shape("frames", frames)?;
    if h != w {
        return Err(Error::Invalid(format!(
            "sheets hold square pictures, not {h} × {w}"
        )));
    }
    let rgb = match c {
        1 => frames.repeat([1, 3, 1, 1]),
        _ => frames_for_model(frames, 3)?,
    };
    let hwc = rgb.permute([0, 2, 3, 1]).contiguous();
    debug_assert_eq!(captions.len() as i64, n);
    Ok(captions
        .into_iter()
        .enumerate()
        .map(|(i, caption)| Tile {
            pixels: Vec::<u8>::try_from(hwc.get(i as i64).view([-1])).expect("u8 frames"),
            caption,
        })
        .collect())
}

/// Lays `tiles` of `size` pixels out `columns` wide, magnified to about
/// [`TILE_PIXELS`], and writes the PNG.
fn write_sheet(path: &Path, tiles: &[Tile], size: usize, columns: usize) -> Result<RgbImage> {
    let zoom = TILE_PIXELS.div_ceil(size.max(1)).max(1);
    let sheet = tile_sheet(tiles, size, columns, zoom);
    sheet.write_png(path)?;
    Ok(sheet)
}

/// The shape of `frames`, which must be `u8` [N ≥ 1, C, H, W] (`what` names them).
fn frame_shape(what: &str, frames: &Tensor) -> Result<[i64; 4]> {
    match (frames.kind(), frames.size().as_slice()) {
        (Kind::Uint8, &[n, c, h, w]) if n >= 1 => Ok([n, c, h, w]),
        (kind, size) => Err(Error::Invalid(format!(
            "{what} must be u8 frames [N ≥ 1, C, H, W], not {kind:?} {size:?}"
        ))),
    }
}

/// Checks that `table` is [M ≥ 1, latents] (`what` names it).
fn check_latent_table(what: &str, table: &Tensor, latents: i64) -> Result<()> {
    match table.size().as_slice() {
        &[m, l] if m >= 1 && l == latents => Ok(()),
        size => Err(Error::Invalid(format!(
            "{what} must be [M ≥ 1, {latents}] latent vectors, not {size:?}"
        ))),
    }
}

/// Checks that the assignment has one entry per latent.
fn check_assignment(assignment: &[usize], latents: i64) -> Result<()> {
    if assignment.len() as i64 != latents {
        return Err(Error::Invalid(format!(
            "the assignment has {} entries but the model has {latents} latents",
            assignment.len()
        )));
    }
    Ok(())
}

/// The rows of a 2-D tensor as `f64`.
fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let (_, l) = t.size2().expect("a 2-D tensor");
    let values =
        Vec::<f64>::try_from(t.to_kind(Kind::Double).contiguous().view([-1])).expect("f64 values");
    values
        .chunks(l.max(1) as usize)
        .map(<[f64]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use scenes::npz::{Compression, NpzWriter};

    use super::*;

    /// A fake model whose latents are an image's pixels in [−1, 1], negated and in
    /// reverse order: latent j is pixel P − 1 − j of the flattened [C, H, W] image.
    struct Mirror {
        shape: [i64; 3],
    }

    impl Representation for Mirror {
        fn encode(&self, images: &Tensor) -> Tensor {
            -images.flatten(1, -1).flip([1])
        }

        fn decode(&self, latents: &Tensor) -> Tensor {
            let [c, h, w] = self.shape;
            (-latents).flip([1]).view([-1, c, h, w])
        }

        fn assignment(&self) -> Option<Vec<usize>> {
            None
        }

        fn device(&self) -> Device {
            Device::Cpu
        }
    }

    /// 1 × 2 × 2 frames from rows of four pixels.
    fn frames(pixels: &[[u8; 4]]) -> Tensor {
        Tensor::from_slice(pixels.concat().as_slice()).view([pixels.len() as i64, 1, 2, 2])
    }

    fn pixels(frame: &Tensor) -> Vec<u8> {
        Vec::<u8>::try_from(frame.contiguous().view([-1])).unwrap()
    }

    /// Latents 0 → variable 0, latents 1 and 2 → variable 1, latent 3 → none (K = 2).
    const ASSIGNMENT: [usize; 4] = [0, 1, 1, 2];
    const MODEL: Mirror = Mirror { shape: [1, 2, 2] };

    #[test]
    fn draws_replace_exactly_the_variables_latents() {
        let images = frames(&[[10, 20, 30, 40], [200, 150, 100, 50]]);
        let sources = [[1, 2, 3, 4], [255, 0, 128, 77], [90, 91, 92, 93]];
        let values = encode_frames(&MODEL, &frames(&sources), 8);
        let how = LatentIntervention::Draws { values };
        let result = intervene(&MODEL, &images, &ASSIGNMENT, 1, &how).unwrap();
        assert_eq!(result.size(), [2, 3, 1, 2, 2]);
        for i in 0..2 {
            let own = pixels(&images.get(i));
            for (s, source) in sources.iter().enumerate() {
                let got = pixels(&result.get(i).get(s as i64));
                // Pixel p holds latent 3 − p: pixels 1 and 2 are variable 1's.
                let expected: Vec<u8> = (0..4)
                    .map(|p| match ASSIGNMENT[3 - p] {
                        1 => source[p],
                        _ => own[p],
                    })
                    .collect();
                assert_eq!(got, expected, "image {i}, draw {s}");
            }
        }
        let captions = how.captions("hue").unwrap();
        assert_eq!(captions.len(), 3);
        assert_eq!(captions[2], ["hue from", "draw 2"]);
    }

    #[test]
    fn a_traversal_sweeps_the_variables_latents_over_the_pools_range() {
        let images = frames(&[[10, 20, 30, 40]]);
        // Per latent: mean [0.1, 0.2, 0.0, 0.2], population std [0.1, 0.1, 0.2, 0.2].
        let pool = Tensor::from_slice(&[0.0f32, 0.1, -0.2, 0.0, 0.2, 0.3, 0.2, 0.4]).view([2, 4]);
        let how = LatentIntervention::Traversal {
            steps: 5,
            range: 2.0,
            pool,
        };
        let result = intervene(&MODEL, &images, &ASSIGNMENT, 1, &how).unwrap();
        assert_eq!(result.size(), [1, 5, 1, 2, 2]);
        let z = rows(&encode_frames(&MODEL, &result.view([5, 1, 2, 2]), 8));
        let own = rows(&encode_frames(&MODEL, &images, 8)).remove(0);
        let (mean, std) = ([0.1, 0.2, 0.0, 0.2], [0.1, 0.1, 0.2, 0.2]);
        for (k, t) in [-2.0, -1.0, 0.0, 1.0, 2.0].into_iter().enumerate() {
            for j in 0..4 {
                let expected = match ASSIGNMENT[j] {
                    1 => mean[j] + t * std[j],
                    _ => own[j],
                };
                // Decoded frames are u8: one grey level is 1/127.5 in latent units.
                assert!(
                    (z[k][j] - expected).abs() <= 0.5 / 127.5 + 1e-6,
                    "step {k}, latent {j}: {} vs {expected}",
                    z[k][j]
                );
            }
            if k > 0 {
                assert!(z[k][1] > z[k - 1][1] && z[k][2] > z[k - 1][2], "step {k}");
            }
        }
        assert_eq!(how.captions("rot").unwrap()[0], ["rot", "-2.0 sd"]);
    }

    #[test]
    fn mistakes_in_an_intervention_are_errors() {
        let images = frames(&[[10, 20, 30, 40]]);
        let draws = LatentIntervention::Draws {
            values: Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)),
        };
        let e = intervene(&MODEL, &images, &ASSIGNMENT, 1, &draws).unwrap_err();
        assert!(e.to_string().contains("[M ≥ 1, 4]"), "{e}");
        let sweep = LatentIntervention::Traversal {
            steps: 0,
            range: 1.0,
            pool: Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)),
        };
        assert!(intervene(&MODEL, &images, &ASSIGNMENT, 1, &sweep).is_err());
        let e = intervene(&MODEL, &images, &[0, 0, 0, 2], 1, &draws).unwrap_err();
        assert!(
            e.to_string()
                .contains("no latent is assigned to variable 1"),
            "{e}"
        );
        let e = intervene(&MODEL, &images, &[0, 1], 1, &draws).unwrap_err();
        assert!(e.to_string().contains("2 entries"), "{e}");
        let floats = images.to_kind(Kind::Float);
        assert!(intervene(&MODEL, &floats, &ASSIGNMENT, 1, &draws).is_err());
    }

    #[test]
    fn only_the_moved_group_responds_to_a_slider() {
        // Pixels 1 and 2 (latents 2 and 1, variable 1) move; the others stay.
        let slider = Slider::single_sweep(frames(&[
            [50, 100, 100, 60],
            [50, 140, 90, 60],
            [50, 30, 200, 60],
        ]));
        let pool = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 0.0, 0.5, 0.5, 0.2, 0.5]).view([2, 4]);
        let names = vec!["pos".to_string(), "rot".to_string()];
        let response = latent_response(&MODEL, &slider, &ASSIGNMENT, &names, Some(&pool)).unwrap();
        assert_eq!(response.groups, ["pos", "rot", "none"]);
        assert_eq!(response.frames, 3);
        // Latent 1 (pixel 2) has pool std 0.25, latent 2 (pixel 1) 0.1.
        let grey = |levels: f64| levels / 127.5;
        let expected = [
            [0.0, 0.0, 0.0],
            [0.0, (grey(10.0) / 0.25 + grey(40.0) / 0.1) / 2.0, 0.0],
            [0.0, (grey(100.0) / 0.25 + grey(70.0) / 0.1) / 2.0, 0.0],
        ];
        for (got, want) in response.change.iter().zip(expected) {
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() < 1e-5,
                    "{:?} vs {expected:?}",
                    response.change
                );
            }
        }
        // Without a pool, the slider's own spread is the unit; still only group 1.
        let own = latent_response(&MODEL, &slider, &ASSIGNMENT, &names, None).unwrap();
        assert!(own.change.iter().all(|r| r[0] == 0.0 && r[2] == 0.0));
        assert!(own.change[2][1] > own.change[1][1]);

        let bad = latent_response(&MODEL, &slider, &[0, 1, 5, 2], &names, None).unwrap_err();
        assert!(bad.to_string().contains("variable 5"), "{bad}");
    }

    #[test]
    fn a_slider_file_reads_as_sweeps_without_alpha() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slider.npz");
        // Four 1 × 1 RGBA frames: two sweeps of two frames.
        let imgs: Vec<u8> = (0..16).collect();
        let flags = [1.0f64, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        let mut npz = NpzWriter::create(&path, Compression::Stored).unwrap();
        npz.add("imgs", &[4, 1, 1, 4], &imgs).unwrap();
        npz.add("raw_latents", &[4, 1], &[0.0f32; 4]).unwrap();
        npz.add("interventions", &[4, 2], &flags).unwrap();
        npz.finish().unwrap();

        let slider = Slider::read(&path, 3).unwrap();
        assert_eq!(slider.reference, [0, 0, 2, 2]);
        assert_eq!(slider.frames.size(), [4, 3, 1, 1]);
        assert_eq!(pixels(&slider.frames.get(1)), [4, 5, 6]);
        let e = Slider::read(&path, 1).unwrap_err();
        assert!(e.to_string().contains("slider.npz"), "{e}");
    }

    #[test]
    fn channel_counts_must_match_except_for_alpha() {
        let rgba = Tensor::arange(2 * 4 * 3 * 3, (Kind::Uint8, Device::Cpu)).view([2, 4, 3, 3]);
        let rgb = frames_for_model(&rgba, 3).unwrap();
        assert!(rgb.equal(&rgba.narrow(1, 0, 3)));
        assert!(frames_for_model(&rgba, 4).unwrap().equal(&rgba));
        let two = rgba.narrow(1, 0, 2);
        let e = frames_for_model(&two, 3).unwrap_err().to_string();
        assert!(e.contains("2 channels") && e.contains("takes 3"), "{e}");
        let e = frames_for_model(&rgba, 1).unwrap_err().to_string();
        assert!(e.contains("4 channels") && e.contains("takes 1"), "{e}");
    }

    #[test]
    fn bars_are_drawn_only_for_groups_that_moved() {
        let chart = bar_chart(&[0.0, 2.0, 0.5, 0.0], 2.0, CHART_PIXELS);
        let has = |rgb: [u8; 3]| chart.chunks_exact(3).any(|p| p == rgb);
        assert!(has(PALETTE[1]) && has(PALETTE[2]) && has(AXIS));
        assert!(!has(PALETTE[0]) && !has(NONE_COLOUR));
        let count = |rgb: [u8; 3]| chart.chunks_exact(3).filter(|p| *p == rgb).count();
        // The full-scale bar is four times as tall as the quarter one.
        assert_eq!(count(PALETTE[1]), 4 * count(PALETTE[2]));
    }

    #[test]
    fn sheets_and_csv_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let images = frames(&[[10, 20, 30, 40], [200, 150, 100, 50]]);
        let how = LatentIntervention::Traversal {
            steps: 3,
            range: 1.0,
            pool: encode_frames(&MODEL, &images, 8),
        };
        let results = intervene(&MODEL, &images, &ASSIGNMENT, 0, &how).unwrap();
        let recon = reconstruct(&MODEL, &images).unwrap();
        assert!(recon.equal(&images), "the fake model reconstructs exactly");
        let grid = dir.path().join("grid.png");
        let captions = how.captions("pos").unwrap();
        let sheet = write_intervention_grid(&grid, &images, &recon, &results, &captions).unwrap();
        // 2 rows of 2 + 3 tiles, each 2 px magnified to 128.
        assert!(sheet.width >= 5 * 128 && sheet.height >= 2 * 128);
        let is_png = |p: &Path| std::fs::read(p).unwrap().starts_with(b"\x89PNG");
        assert!(is_png(&grid));
        assert!(write_intervention_grid(&grid, &images, &recon, &results, &captions[..2]).is_err());

        let slider = Slider::single_sweep(frames(&[[1, 2, 3, 4], [1, 9, 3, 4]]));
        let names = vec!["a,b".to_string(), "c".to_string()];
        let response = latent_response(&MODEL, &slider, &ASSIGNMENT, &names, None).unwrap();
        let chart = dir.path().join("response.png");
        response.write_png(&chart).unwrap();
        assert!(is_png(&chart));
        let csv = dir.path().join("response.csv");
        response.write_csv(&csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "frame,reference,\"a,b\",c,none");
        assert_eq!(lines[1], "0,0,0.000000,0.000000,0.000000");
        assert!(lines[2].starts_with("1,0,0.000000,") && lines[2].ends_with(",0.000000"));
    }
}

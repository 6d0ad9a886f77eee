//! Temporal Causal3DIdent (CITRIS, Lippe et al. 2022), re-created with our own software
//! rasterizer: one object (the Utah teapot by default) with a position, a rotation and a
//! hue, lit by a coloured spotlight circling it, over a coloured ground, at 64×64.
//!
//! ## Layouts (as CITRIS' files and `experiments/datasets.py` `Causal3DDataset`)
//!
//! `raw_latents` columns (radians for angles and hues, all in [0, 2π)):
//!
//! | # | name | range |
//! |---|---|---|
//! | 0–2 | `pos-x`, `pos-y`, `pos-z` | [−2, 2] |
//! | 3–5 | `rot-alpha`, `rot-beta`, `rot-gamma` | [0, 2π); gamma is always 0 |
//! | 6 | `rot-spot` (spotlight angle θ) | [0, 2π) |
//! | 7–9 | `hue-object`, `hue-spot`, `hue-back` | [0, 2π) |
//!
//! These ten columns are exactly CITRIS' `raw_latents`. With several shapes the state
//! carries an eleventh, internal entry, the index into the selected shapes; it is written
//! to `shape_latents` (as CITRIS does), not to `raw_latents`.
//!
//! `interventions` has CITRIS' 12 columns: the ten above, `obj-shape`, `obj-material`.
//! Position and rotation are intervened on as groups (CITRIS' `--coarse_vars`, as in
//! the paper): the x, y, z columns are always equal, and so are alpha and beta; gamma
//! and material are never intervened on, nor is the shape with a single shape. Each
//! group is intervened on independently with probability 1/6 (1/7 with several shapes,
//! CITRIS' `1 / (coarse variables + 1)`).
//!
//! `shape_latents` has 2 columns: the shape's index in [`SHAPE_NAMES`] (CITRIS: 0 is the
//! teapot) and the material (always 0, rubber).
//!
//! Frames are RGB (3 channels): CITRIS' files are RGBA with an alpha of 255 everywhere,
//! and its loader drops the alpha channel.
//!
//! The dynamics (after CITRIS' `data_generation/temporal_causal3dident/
//! data_generation_causal3dident.py`) are documented in [`dynamics`], the scene and the
//! renderer (after its `generate_causal3dident_images.py`, fitted to the real frames)
//! in [`render`].

pub mod dynamics;
mod meshes;
mod raster;
pub mod render;
mod teapot;

use rand_chacha::ChaCha8Rng;

use super::{CausalVariable, TemporalProcess, VariableKind};
use crate::error::{Error, Result};
use dynamics::{COLUMNS, CONTINUOUS, SHAPE};
use render::{Model, Renderer, TEAPOT_SIZE};

/// The shapes that can be selected, in catalogue order (the index is what
/// `shape_latents` records). The teapot is CITRIS' shape 0; the others replace its
/// scanned meshes with simple solids.
pub const SHAPE_NAMES: [&str; 6] = ["teapot", "cube", "sphere", "cylinder", "cone", "torus"];

/// Largest dimension of the simple solids as a fraction of the teapot's length, chosen
/// so that all shapes look about as bulky as the teapot's body.
const SOLID_SIZES: [f32; 5] = [0.5, 0.65, 0.55, 0.6, 0.75];

/// Names of the 12 intervention columns / causal variables, CITRIS' `VAR_INFO` keys.
const VARIABLE_NAMES: [&str; COLUMNS] = [
    "pos-x",
    "pos-y",
    "pos-z",
    "rot-alpha",
    "rot-beta",
    "rot-gamma",
    "rot-spot",
    "hue-object",
    "hue-spot",
    "hue-back",
    "obj-shape",
    "obj-material",
];

/// An object shape of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Teapot,
    Cube,
    Sphere,
    Cylinder,
    Cone,
    Torus,
}

impl Shape {
    const ALL: [Shape; 6] = [
        Shape::Teapot,
        Shape::Cube,
        Shape::Sphere,
        Shape::Cylinder,
        Shape::Cone,
        Shape::Torus,
    ];

    /// The shape called `name` (one of [`SHAPE_NAMES`], case-insensitive).
    pub fn from_name(name: &str) -> Result<Self> {
        SHAPE_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name.trim()))
            .map(|i| Self::ALL[i])
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown causal3d shape `{name}`; valid shapes: {}",
                    SHAPE_NAMES.join(", ")
                ))
            })
    }

    /// Index in [`SHAPE_NAMES`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|&s| s == self).unwrap_or(0)
    }

    pub fn name(self) -> &'static str {
        SHAPE_NAMES[self.index()]
    }

    fn model(self) -> Model {
        match self {
            Shape::Teapot => {
                // CITRIS' Blender teapot has its spout towards −x (matched on the real
                // frames): Newell's teapot turned half way round z.
                let turn = |mut m: meshes::Mesh| {
                    for p in m.positions.iter_mut().chain(m.normals.iter_mut()) {
                        *p = [-p[0], -p[1], p[2]];
                    }
                    m
                };
                Model::new(
                    turn(teapot::teapot(teapot::Detail::Fine)),
                    Some(turn(teapot::teapot(teapot::Detail::Coarse))),
                    TEAPOT_SIZE,
                )
            }
            solid => {
                let mesh = match solid {
                    Shape::Cube => meshes::cube(),
                    Shape::Sphere => meshes::sphere(),
                    Shape::Cylinder => meshes::cylinder(),
                    Shape::Cone => meshes::cone(),
                    _ => meshes::torus(),
                };
                Model::new(mesh, None, SOLID_SIZES[solid.index() - 1] * TEAPOT_SIZE)
            }
        }
    }
}

/// The Causal3DIdent-style process. Meshes are tessellated once, in [`Causal3d::new`].
#[derive(Clone, Debug)]
pub struct Causal3d {
    shapes: Vec<Shape>,
    size: usize,
    catalogue: Vec<usize>,
    models: Vec<Model>,
    renderer: Renderer,
}

impl Causal3d {
    /// Frame side in pixels.
    pub const SIZE: usize = 64;

    /// A process over the shapes named (see [`SHAPE_NAMES`]); one name gives CITRIS'
    /// single-object data set, several make the shape a causal variable.
    pub fn new(shapes: &[&str]) -> Result<Self> {
        if shapes.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "causal3d needs at least one shape; valid shapes: {}",
                SHAPE_NAMES.join(", ")
            )));
        }
        let mut parsed = Vec::with_capacity(shapes.len());
        for name in shapes {
            let shape = Shape::from_name(name)?;
            if parsed.contains(&shape) {
                return Err(Error::InvalidArgument(format!(
                    "causal3d shape `{}` is listed twice",
                    shape.name()
                )));
            }
            parsed.push(shape);
        }
        Ok(Self {
            catalogue: parsed.iter().map(|s| s.index()).collect(),
            models: parsed.iter().map(|s| s.model()).collect(),
            shapes: parsed,
            size: Self::SIZE,
            renderer: Renderer::new(Self::SIZE),
        })
    }

    /// The selected shapes, in the order of the shape index.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// Number of triangles of each selected shape's mesh.
    pub fn triangle_counts(&self) -> Vec<usize> {
        self.models.iter().map(|m| m.mesh.triangles.len()).collect()
    }

    /// Index into [`Self::shapes`] of the shape in `state`.
    fn shape_of(&self, state: &[f32]) -> usize {
        if self.shapes.len() > 1 {
            (state[SHAPE].max(0.0) as usize).min(self.shapes.len() - 1)
        } else {
            0
        }
    }
}

impl TemporalProcess for Causal3d {
    fn name(&self) -> &str {
        "causal3d"
    }

    fn frame_shape(&self) -> [usize; 3] {
        [self.size, self.size, 3]
    }

    fn variables(&self) -> Vec<CausalVariable> {
        let several = self.shapes.len() > 1;
        VARIABLE_NAMES
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let (kind, latents) = match k {
                    0..=2 => (
                        VariableKind::Continuous {
                            min: -dynamics::POSITION_RANGE as f32,
                            max: dynamics::POSITION_RANGE as f32,
                        },
                        vec![k],
                    ),
                    3..=9 => (
                        VariableKind::Angle {
                            min: 0.0,
                            max: std::f32::consts::TAU,
                        },
                        vec![k],
                    ),
                    10 => (
                        VariableKind::Categorical {
                            classes: self.shapes.len(),
                        },
                        if several { vec![SHAPE] } else { vec![] },
                    ),
                    _ => (VariableKind::Categorical { classes: 1 }, vec![]),
                };
                CausalVariable {
                    name: name.to_string(),
                    kind,
                    latents,
                }
            })
            .collect()
    }

    fn latent_names(&self) -> Vec<String> {
        VARIABLE_NAMES[..CONTINUOUS]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Gamma and material are never intervened on; the shape only with several shapes.
    fn intervenable(&self) -> Vec<bool> {
        (0..VARIABLE_NAMES.len())
            .map(|k| match k {
                5 | 11 => false,
                10 => self.shapes.len() > 1,
                _ => true,
            })
            .collect()
    }

    fn sample_state(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        dynamics::sample_state(self.shapes.len(), rng)
    }

    fn step(&self, state: &[f32], rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<bool>) {
        dynamics::step(state, &self.catalogue, rng)
    }

    fn render(&self, state: &[f32], frame: &mut [u8]) {
        let model = &self.models[self.shape_of(state)];
        self.renderer.render(model, state, frame);
    }

    fn shape_latents(&self, state: &[f32]) -> Vec<u8> {
        vec![self.catalogue[self.shape_of(state)] as u8, 0]
    }
}

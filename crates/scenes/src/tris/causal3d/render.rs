//! The Causal3DIdent scene and its renderer.
//!
//! Geometry follows CITRIS' Blender script (`generate_causal3dident_images.py`): the
//! object's origin is at (x, y, z + S/2) with rotation_euler (α, β, γ) (XYZ order:
//! R = Rz(γ) Ry(β) Rx(α)), S being the object's largest dimension; the ground plane lies
//! at z = −S; the spotlight sits at (4 sin θ, 4 cos θ, 6 + S), points at the object and
//! has a 35° cone with blend 0.1; colours are HSV hues: object (h, 1, 1), spotlight
//! (h, 0.8, 1), ground (h, 0.6, 1), rendered linearly and encoded as sRGB.
//!
//! The parts the script does not state (camera, base lighting, object size) were fitted
//! to the reference frames of the real data set (`data_slider.npz`, object positions,
//! shadow positions, ground brightness and ring profiles): the camera sits at
//! (7.21, 0, 7.21) looking at the origin with a 73.9° field of view (image right is +y,
//! objects with larger x come towards the camera, i.e. down and larger in the image),
//! S = 6.69 for the layout while the visible teapot is 5.4 long (spout tip to handle),
//! and the ground is lit by a light high above: its falloff darkens the far ground and
//! the object casts a small, soft, black shadow straight below itself. The spotlight's
//! cone leaves a coloured ring on the ground, whose hole is the object's own shadow.
//!
//! Rendering: the ground is shaded per pixel (precomputed camera rays), with the two
//! shadows looked up in shadow maps (the object's silhouette rasterized from each light,
//! blurred for the penumbra); the object is a Gouraud-shaded triangle mesh (Lambert from
//! both lights plus a weak highlight) rasterized with a z-buffer at 2×2 supersampling and
//! composited over the ground; linear colours are encoded as sRGB bytes at the end.

use std::cell::RefCell;
use std::f32::consts::TAU;

use super::dynamics::{
    HUE_BACK, HUE_OBJECT, HUE_SPOT, POS_X, POS_Y, POS_Z, ROT_ALPHA, ROT_BETA, ROT_SPOT,
};
use super::meshes::{add, cross, dot, norm, normalize_or, scale, sub, Mesh, V3};
use super::raster::{ColourBuffer, Map, Rect, ScreenVertex};

/// The object's largest dimension S as the scene layout uses it (scene units).
pub(crate) const OBJECT_SIZE: f32 = 6.69;
/// Length of the teapot mesh (spout tip to handle), fitted to the real frames: smaller
/// than S, whose fit also absorbs the Blender model's padding.
pub(crate) const TEAPOT_SIZE: f32 = 5.4;
/// Camera position; it looks at the origin with world z up.
const CAMERA: V3 = [7.211, 0.0, 7.211];
/// Focal length in pixels of a 64-pixel image (horizontal field of view 73.9°).
const FOCAL_64: f32 = 42.53;
/// Spotlight: distance from the z axis, height above the object origin's base level.
const SPOT_RADIUS: f32 = 4.0;
const SPOT_HEIGHT: f32 = 6.0 + OBJECT_SIZE;
/// Half the spotlight cone and the half width of its soft edge (Blender: spot_size 35°,
/// blend 0.1; the lit ring of the real frames fades out between 15.5° and 18°).
const SPOT_HALF_ANGLE: f32 = 16.75 * std::f32::consts::PI / 180.0;
const SPOT_EDGE: f32 = 1.25 * std::f32::consts::PI / 180.0;
/// Spotlight intensity (irradiance at distance 1).
const SPOT_INTENSITY: f32 = 75.0;
/// The object's shadow inside the spotlight's cone (the ring's hole) is wider in the
/// real frames than our mesh casts (its edge lies near 10° from the axis there, 7° with
/// the plain silhouette); the shadow map is drawn magnified by this about the axis.
const SPOT_SHADOW_GROWTH: f32 = 1.2;
/// Spotlight radius relative to its distance: the softness of its shadow.
const SPOT_SOFTNESS: f32 = 0.5;
/// The base light above the scene: position and the two terms of its irradiance
/// `a + b cos / d²`, fitted to the ground of the real frames.
const KEY_POSITION: V3 = [0.44, -4.14, 45.63];
const KEY_A: f32 = 0.071;
const KEY_B: f32 = 257.1;
/// Blur radius (scene units) of the shadow under the object; the real frames show about
/// the same soft blob whatever the object's height.
const KEY_SOFTNESS: f32 = 1.4;
/// The blurred silhouette under the object is mapped through a smoothstep between these
/// coverages: the real frames show a small black core (the umbra of a large light) with
/// a short penumbra, in which the spotlight's light is missing too.
const KEY_UMBRA: [f32; 2] = [0.25, 0.75];
/// Base light on the object's upward-facing surfaces (the light is straight above).
const OBJECT_KEY: f32 = 0.35;
/// Multiplier of the spotlight reaching the object (Blender's object material responds
/// more strongly than the ground's; fitted to the real frames).
const OBJECT_SPOT_GAIN: f32 = 2.0;
/// Strength and exponent of a white Blinn–Phong highlight of the spotlight (the rubber
/// material's weak specular reflection).
const OBJECT_SPECULAR: f32 = 0.08;
const OBJECT_SHININESS: i32 = 8;
/// Light reaching the object from every direction (keeps unlit sides not quite black).
const OBJECT_AMBIENT: f32 = 0.01;
/// Supersampling factor per axis of the object's coverage.
const SUPERSAMPLE: usize = 2;
/// Shadow map resolutions (texels per side).
const SPOT_MAP: usize = 40;
const KEY_MAP: usize = 32;

/// One shape, ready to render.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub mesh: Mesh,
    /// A coarser version of `mesh` (same placement) for the shadow maps.
    pub shadow: Mesh,
    /// Largest distance of a vertex from the object origin.
    pub radius: f32,
}

impl Model {
    /// `mesh` scaled so that its largest bounding-box side is `size`, with an optional
    /// coarser `shadow` mesh placed the same way.
    pub fn new(mesh: Mesh, shadow: Option<Mesh>, size: f32) -> Self {
        let (centre, s) = mesh.normalization(size);
        let shadow = shadow
            .unwrap_or_else(|| mesh.clone())
            .transformed(centre, s);
        let mesh = mesh.transformed(centre, s);
        let radius = mesh.radius();
        Self {
            mesh,
            shadow,
            radius,
        }
    }
}

/// Everything about the view that does not change between frames.
#[derive(Clone, Debug)]
pub(crate) struct Renderer {
    size: usize,
    focal: f32,
    right: V3,
    up: V3,
    forward: V3,
    /// Per pixel: the ground point hit by its centre ray (x, y) and the unshadowed
    /// irradiance from the base light.
    ground_x: Vec<f32>,
    ground_y: Vec<f32>,
    ground_light: Vec<f32>,
    /// Linear [0, 1] → sRGB byte, in 4096 steps.
    srgb: Vec<u8>,
    /// Direction towards the base light (straight up) and the ground points' coordinates
    /// across it, the shadow map's axes.
    key_direction: V3,
    key_basis: (V3, V3),
    ground_key: Vec<[f32; 2]>,
}

/// Per-thread buffers, so that rendering allocates nothing after the first frame.
#[derive(Default)]
struct Scratch {
    screen: Vec<ScreenVertex>,
    /// Whether each vertex's normal faces the camera: triangles facing away at all three
    /// vertices are hidden behind the front of the surface and are not drawn. (Shadow
    /// maps draw every triangle: light passing the lid's gap must still be stopped.)
    faces_camera: Vec<bool>,
    spot_uv: Vec<[f32; 2]>,
    key_uv: Vec<[f32; 2]>,
    image: Vec<[f32; 3]>,
    buffer: ColourBuffer,
    spot_map: Map,
    key_map: Map,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// RGB of the HSV colour (hue in radians).
pub(crate) fn hsv(hue: f32, s: f32, v: f32) -> [f32; 3] {
    let h = (hue / TAU).rem_euclid(1.0) * 6.0;
    let i = (h.floor() as usize).min(5);
    let f = h - i as f32;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

fn ground_z() -> f32 {
    -OBJECT_SIZE
}

/// Blender/Cycles spot falloff: the cosine to the axis inside the cone, with a soft
/// edge (the lamp's 0.5 radius blurs it by about ±SPOT_EDGE).
#[inline]
fn spot_falloff(cos_axis: f32) -> f32 {
    let outer = (SPOT_HALF_ANGLE + SPOT_EDGE).cos();
    if cos_axis <= outer {
        return 0.0;
    }
    let inner = (SPOT_HALF_ANGLE - SPOT_EDGE).cos();
    if cos_axis >= inner {
        return cos_axis;
    }
    let x = (cos_axis - outer) / (inner - outer);
    cos_axis * x * x * (3.0 - 2.0 * x)
}

/// Two unit vectors completing `d` (unit) to an orthonormal basis.
fn basis(d: V3) -> (V3, V3) {
    let helper = if d[2].abs() < 0.9 {
        [0.0, 0.0, 1.0]
    } else {
        [1.0, 0.0, 0.0]
    };
    let e1 = normalize_or(cross(helper, d), [1.0, 0.0, 0.0]);
    (e1, cross(d, e1))
}

impl Renderer {
    pub fn new(size: usize) -> Self {
        let forward = normalize_or(scale(CAMERA, -1.0), [0.0, 0.0, -1.0]);
        let right = normalize_or(cross(forward, [0.0, 0.0, 1.0]), [0.0, 1.0, 0.0]);
        let up = cross(right, forward);
        let focal = FOCAL_64 * size as f32 / 64.0;
        let c = size as f32 / 2.0;
        let n = size * size;
        let (mut ground_x, mut ground_y, mut ground_light) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for j in 0..size {
            for i in 0..size {
                let (sx, sy) = ((i as f32 + 0.5 - c) / focal, (j as f32 + 0.5 - c) / focal);
                let ray = add(add(forward, scale(right, sx)), scale(up, -sy));
                // Every ray of this camera points down at the ground.
                let t = (ground_z() - CAMERA[2]) / ray[2];
                let p = add(CAMERA, scale(ray, t));
                let to_light = sub(KEY_POSITION, p);
                let d2 = dot(to_light, to_light);
                ground_x.push(p[0]);
                ground_y.push(p[1]);
                ground_light.push(KEY_A + KEY_B * (to_light[2] / d2.sqrt()) / d2);
            }
        }
        let srgb = (0..=4096)
            .map(|i| {
                let l = i as f32 / 4096.0;
                let s = if l <= 0.003_130_8 {
                    12.92 * l
                } else {
                    1.055 * l.powf(1.0 / 2.4) - 0.055
                };
                (s * 255.0 + 0.5) as u8
            })
            .collect();
        // The shadow under the object is straight below it in the real frames.
        let key_direction = [0.0, 0.0, 1.0];
        let key_basis = basis(key_direction);
        let ground_key = ground_x
            .iter()
            .zip(&ground_y)
            .map(|(&x, &y)| {
                let g = [x, y, ground_z()];
                [dot(g, key_basis.0), dot(g, key_basis.1)]
            })
            .collect();
        Self {
            size,
            focal,
            right,
            up,
            forward,
            ground_x,
            ground_y,
            ground_light,
            srgb,
            key_direction,
            key_basis,
            ground_key,
        }
    }

    #[inline]
    fn encode(&self, linear: f32) -> u8 {
        self.srgb[(linear.clamp(0.0, 1.0) * 4096.0) as usize]
    }

    /// Renders `state` (raw latents) with `model` into `frame` (RGB bytes, row-major).
    pub fn render(&self, model: &Model, state: &[f32], frame: &mut [u8]) {
        SCRATCH.with(|s| self.render_with(&mut s.borrow_mut(), model, state, frame));
    }

    fn render_with(&self, s: &mut Scratch, model: &Model, state: &[f32], frame: &mut [u8]) {
        let n = self.size;
        let mesh = &model.mesh;
        let nv = mesh.positions.len();

        // Scene set-up from the latents.
        let origin = [state[POS_X], state[POS_Y], state[POS_Z] + OBJECT_SIZE / 2.0];
        let (sa, ca) = state[ROT_ALPHA].sin_cos();
        let (sb, cb) = state[ROT_BETA].sin_cos();
        // R = Ry(β) Rx(α), rows.
        let rot = [
            [cb, sb * sa, sb * ca],
            [0.0, ca, -sa],
            [-sb, cb * sa, cb * ca],
        ];
        let apply = |v: V3| -> V3 { [dot(rot[0], v), dot(rot[1], v), dot(rot[2], v)] };
        let (st, ct) = state[ROT_SPOT].sin_cos();
        let spot = [SPOT_RADIUS * st, SPOT_RADIUS * ct, SPOT_HEIGHT];
        let spot_axis = normalize_or(sub(origin, spot), [0.0, 0.0, -1.0]);
        let (spot_e1, spot_e2) = basis(spot_axis);
        let spot_tan = SPOT_HALF_ANGLE.tan();
        let object_albedo = hsv(state[HUE_OBJECT], 1.0, 1.0);
        let spot_colour = hsv(state[HUE_SPOT], 0.8, 1.0);
        let ground_albedo = hsv(state[HUE_BACK], 0.6, 1.0);

        // Vertices: world position, lighting, screen and shadow-map coordinates.
        s.screen.clear();
        s.spot_uv.clear();
        s.key_uv.clear();
        s.faces_camera.clear();
        let key = self.key_direction;
        let (key_e1, key_e2) = self.key_basis;
        // Key-light shadow map: orthographic along the light, centred on the object,
        // wide enough for the object plus its penumbra on the ground.
        let key_blur = KEY_SOFTNESS;
        let key_half = model.radius + key_blur + 0.5;
        let key_scale = KEY_MAP as f32 / (2.0 * key_half);
        let key_centre = [dot(origin, key_e1), dot(origin, key_e2)];
        let spot_scale = SPOT_MAP as f32 / (2.0 * spot_tan);
        let sub_focal = self.focal * SUPERSAMPLE as f32;
        let sub_centre = (n * SUPERSAMPLE) as f32 / 2.0;
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for i in 0..nv {
            let p = add(apply(mesh.positions[i]), origin);
            let normal = apply(mesh.normals[i]);
            let v = sub(p, CAMERA);
            s.faces_camera.push(dot(normal, v) < 0.0);
            let key_light = OBJECT_KEY * dot(normal, key).max(0.0);
            // Spotlight: Lambert and a weak highlight towards the camera.
            let to_spot = sub(spot, p);
            let ds2 = dot(to_spot, to_spot);
            let ds = ds2.sqrt();
            let to_spot = scale(to_spot, 1.0 / ds);
            let spot_in = SPOT_INTENSITY * spot_falloff(-dot(to_spot, spot_axis)) / ds2;
            let lambert = dot(normal, to_spot).max(0.0);
            let spot_light = OBJECT_SPOT_GAIN * spot_in * lambert;
            let half = normalize_or(sub(to_spot, normalize_or(v, [0.0; 3])), normal);
            let highlight = if lambert > 0.0 {
                OBJECT_SPECULAR * spot_in * dot(normal, half).max(0.0).powi(OBJECT_SHININESS)
            } else {
                0.0
            };
            let mut colour = [0.0; 3];
            for k in 0..3 {
                let e = key_light + spot_colour[k] * spot_light + OBJECT_AMBIENT;
                colour[k] = object_albedo[k] * e + spot_colour[k] * highlight;
            }
            let z = dot(v, self.forward);
            let inv_z = 1.0 / z;
            let sx = sub_centre + sub_focal * dot(v, self.right) * inv_z;
            let sy = sub_centre - sub_focal * dot(v, self.up) * inv_z;
            x0 = x0.min(sx);
            y0 = y0.min(sy);
            x1 = x1.max(sx);
            y1 = y1.max(sy);
            s.screen.push(ScreenVertex {
                x: sx,
                y: sy,
                inv_z,
                colour,
            });
        }

        // Shadow maps: the silhouette of the (coarser) shadow mesh seen from each light.
        for &q in &model.shadow.positions {
            let p = add(apply(q), origin);
            let d = sub(p, spot);
            let dz = dot(d, spot_axis).max(1e-3);
            let grow = SPOT_SHADOW_GROWTH * spot_scale / dz;
            s.spot_uv.push([
                dot(d, spot_e1) * grow + SPOT_MAP as f32 / 2.0,
                dot(d, spot_e2) * grow + SPOT_MAP as f32 / 2.0,
            ]);
            s.key_uv.push([
                (dot(p, key_e1) - key_centre[0]) * key_scale + KEY_MAP as f32 / 2.0,
                (dot(p, key_e2) - key_centre[1]) * key_scale + KEY_MAP as f32 / 2.0,
            ]);
        }
        s.spot_map.reset(SPOT_MAP);
        s.key_map.reset(KEY_MAP);
        for t in &model.shadow.triangles {
            let [a, b, c] = t.map(|i| i as usize);
            s.spot_map
                .fill_triangle(s.spot_uv[a], s.spot_uv[b], s.spot_uv[c]);
            s.key_map
                .fill_triangle(s.key_uv[a], s.key_uv[b], s.key_uv[c]);
        }
        // Penumbrae: the spotlight's radius over its distance to the object, and the
        // base light's angular size times the object's height above the ground.
        let spot_distance = norm(sub(origin, spot));
        let spot_blur =
            (0.5 * SPOT_SOFTNESS / spot_distance / spot_tan * SPOT_MAP as f32 / 2.0).round();
        s.spot_map.blur(spot_blur as usize);
        s.key_map.blur((key_blur * key_scale).round() as usize);

        // Ground.
        s.image.clear();
        s.image.resize(n * n, [0.0; 3]);
        let gz = ground_z();
        let cut = (SPOT_HALF_ANGLE + SPOT_EDGE).cos();
        let cut2 = cut * cut;
        let key_offset = [
            KEY_MAP as f32 / 2.0 - key_centre[0] * key_scale,
            KEY_MAP as f32 / 2.0 - key_centre[1] * key_scale,
        ];
        for i in 0..n * n {
            // Base light, shadowed by the object (which also takes the spotlight's light
            // there, as in the real frames).
            let [g1, g2] = self.ground_key[i];
            let blocked = s.key_map.sample(
                g1 * key_scale + key_offset[0],
                g2 * key_scale + key_offset[1],
            );
            let shade = if blocked > KEY_UMBRA[0] {
                let x = ((blocked - KEY_UMBRA[0]) / (KEY_UMBRA[1] - KEY_UMBRA[0])).min(1.0);
                1.0 - x * x * (3.0 - 2.0 * x)
            } else {
                1.0
            };
            // Spotlight, inside its cone and outside the object's shadow.
            let d = [
                self.ground_x[i] - spot[0],
                self.ground_y[i] - spot[1],
                gz - spot[2],
            ];
            let d2 = dot(d, d);
            let dz = dot(d, spot_axis);
            let mut spot_light = 0.0;
            if dz > 0.0 && dz * dz > cut2 * d2 {
                let dist = d2.sqrt();
                let su = dot(d, spot_e1) / dz * spot_scale + SPOT_MAP as f32 / 2.0;
                let sv = dot(d, spot_e2) / dz * spot_scale + SPOT_MAP as f32 / 2.0;
                let lit = 1.0 - s.spot_map.sample(su, sv);
                spot_light = SPOT_INTENSITY * spot_falloff(dz / dist) * (-d[2] / dist) / d2 * lit;
            }
            let key_light = self.ground_light[i];
            let mut c = [0.0; 3];
            for k in 0..3 {
                c[k] = ground_albedo[k] * (key_light + spot_colour[k] * spot_light) * shade;
            }
            s.image[i] = c;
        }

        // Object, supersampled, composited over the ground.
        let ns = n * SUPERSAMPLE;
        s.buffer.resize(ns);
        if let Some(rect) = Rect::around(x0 - 1.0, y0 - 1.0, x1 + 1.0, y1 + 1.0, ns) {
            s.buffer.clear(rect);
            for t in &mesh.triangles {
                let [a, b, c] = t.map(|i| i as usize);
                if s.faces_camera[a] || s.faces_camera[b] || s.faces_camera[c] {
                    s.buffer.triangle(&s.screen[a], &s.screen[b], &s.screen[c]);
                }
            }
            let inv = 1.0 / (SUPERSAMPLE * SUPERSAMPLE) as f32;
            for py in rect.y0 / SUPERSAMPLE..=rect.y1 / SUPERSAMPLE {
                for px in rect.x0 / SUPERSAMPLE..=rect.x1 / SUPERSAMPLE {
                    let ground = s.image[py * n + px];
                    let mut acc = [0.0; 3];
                    let mut any = false;
                    for sy in 0..SUPERSAMPLE {
                        for sx in 0..SUPERSAMPLE {
                            let (x, y) = (px * SUPERSAMPLE + sx, py * SUPERSAMPLE + sy);
                            let inside =
                                x >= rect.x0 && x <= rect.x1 && y >= rect.y0 && y <= rect.y1;
                            let j = y * ns + x;
                            let c = if inside && s.buffer.inv_z[j] > 0.0 {
                                any = true;
                                s.buffer.colour[j]
                            } else {
                                ground
                            };
                            for k in 0..3 {
                                acc[k] += c[k];
                            }
                        }
                    }
                    if any {
                        s.image[py * n + px] = acc.map(|v| v * inv);
                    }
                }
            }
        }

        for (out, c) in frame.chunks_exact_mut(3).zip(&s.image) {
            for k in 0..3 {
                out[k] = self.encode(c[k]);
            }
        }
    }
}

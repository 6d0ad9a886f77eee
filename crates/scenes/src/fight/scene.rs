//! What a fight scene shows: the six image-relevant labels, read off a network sample
//! through a validated variable map, and the nuisance values that vary the picture
//! without being part of the causal model.

use bayesnet::{Network, VarId};
use rand::Rng;

use crate::error::{Error, Result};

/// Names of the image-relevant variables, in the order of [`Labels`]' fields, with the
/// states each must have (any order in the network).
pub const IMAGE_VARIABLES: [(&str, &[&str]); 6] = [
    ("actor", &CHARACTERS),
    ("actor_type", &TYPES),
    ("action", &ACTIONS),
    ("reactor", &CHARACTERS),
    ("reactor_type", &TYPES),
    ("reaction", &REACTIONS),
];

const CHARACTERS: [&str; 2] = ["Satyr", "Golem"];
const TYPES: [&str; 3] = ["Type1", "Type2", "Type3"];
const ACTIONS: [&str; 3] = ["Attack", "Taunt", "Walk"];
const REACTIONS: [&str; 4] = ["Dying", "Hurt", "Idle", "Attack"];

/// The two kinds of fighter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Character {
    /// Horned, goat-legged, light build.
    Satyr,
    /// Blocky, made of stone.
    Golem,
}

/// What the actor (left, facing right) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Attack,
    Taunt,
    Walk,
}

/// How the reactor (right, facing left) responds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reaction {
    Dying,
    Hurt,
    Idle,
    Attack,
}

/// Everything the image depends on causally. Types are 0, 1, 2 for Type1–Type3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Labels {
    pub actor: Character,
    pub actor_type: usize,
    pub action: Action,
    pub reactor: Character,
    pub reactor_type: usize,
    pub reaction: Reaction,
}

impl Labels {
    /// Short text for captions, one line per fighter: `SATYR T1 ATTACK`.
    pub fn caption(&self) -> [String; 2] {
        [
            format!(
                "{} T{} {}",
                CHARACTERS[self.actor as usize],
                self.actor_type + 1,
                ACTIONS[self.action as usize]
            )
            .to_uppercase(),
            format!(
                "{} T{} {}",
                CHARACTERS[self.reactor as usize],
                self.reactor_type + 1,
                REACTIONS[self.reaction as usize]
            )
            .to_uppercase(),
        ]
    }
}

/// All 2 × 3 × 3 × 2 × 3 × 4 = 432 label combinations, actor fields varying slowest.
pub fn clean_grid() -> Vec<Labels> {
    let chars = [Character::Satyr, Character::Golem];
    let actions = [Action::Attack, Action::Taunt, Action::Walk];
    let reactions = [
        Reaction::Dying,
        Reaction::Hurt,
        Reaction::Idle,
        Reaction::Attack,
    ];
    let mut out = Vec::with_capacity(432);
    for actor in chars {
        for actor_type in 0..3 {
            for action in actions {
                for reactor in chars {
                    for reactor_type in 0..3 {
                        for reaction in reactions {
                            out.push(Labels {
                                actor,
                                actor_type,
                                action,
                                reactor,
                                reactor_type,
                                reaction,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Where the image-relevant variables live in a network, and how its state indices map
/// to ours. Built by [`FightVars::new`], which checks names and states once.
#[derive(Clone, Debug)]
pub struct FightVars {
    ids: [VarId; 6],
    /// For each image variable: network state index → our state index.
    maps: [Vec<usize>; 6],
}

impl FightVars {
    /// Checks that `net` has the six image variables with exactly the expected states
    /// (in any order); the error names the variable and state that is missing or extra.
    pub fn new(net: &Network) -> Result<Self> {
        let mut ids = [VarId(0); 6];
        let mut maps: [Vec<usize>; 6] = Default::default();
        for (k, (name, states)) in IMAGE_VARIABLES.iter().enumerate() {
            let expected = states.join(", ");
            let v = net.var(name).map_err(|_| {
                Error::InvalidArgument(format!(
                    "network `{}` has no variable `{name}`: fight scenes draw {} and need \
                     `{name}` with states {expected}",
                    net.name(),
                    IMAGE_VARIABLES.map(|(n, _)| n).join(", "),
                ))
            })?;
            let have = &net.variable(v).states;
            for s in states.iter() {
                if !have.iter().any(|h| h == s) {
                    return Err(Error::InvalidArgument(format!(
                        "variable `{name}` has no state `{s}` (it has {}); fight scenes need \
                         exactly {expected}",
                        have.join(", ")
                    )));
                }
            }
            let mut map = Vec::with_capacity(have.len());
            for h in have {
                match states.iter().position(|s| s == h) {
                    Some(i) => map.push(i),
                    None => {
                        return Err(Error::InvalidArgument(format!(
                            "variable `{name}` has a state `{h}` that fight scenes cannot \
                             draw; they need exactly {expected}"
                        )))
                    }
                }
            }
            ids[k] = v;
            maps[k] = map;
        }
        Ok(Self { ids, maps })
    }

    /// The labels of one joint sample (states indexed by `VarId`).
    pub fn labels(&self, states: &[usize]) -> Labels {
        let s = |k: usize| self.maps[k][states[self.ids[k].0]];
        let chars = [Character::Satyr, Character::Golem];
        Labels {
            actor: chars[s(0)],
            actor_type: s(1),
            action: [Action::Attack, Action::Taunt, Action::Walk][s(2)],
            reactor: chars[s(3)],
            reactor_type: s(4),
            reaction: [
                Reaction::Dying,
                Reaction::Hurt,
                Reaction::Idle,
                Reaction::Attack,
            ][s(5)],
        }
    }
}

/// Variation that is recorded but not causal: where and how big each fighter is, where in
/// its animation it is caught, the background and the light. [`Nuisance::default`] (all
/// neutral) is the clean picture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nuisance {
    /// Horizontal shift of the actor, in image widths.
    pub actor_dx: f32,
    /// Vertical shift of the actor, in image heights (positive is down).
    pub actor_dy: f32,
    /// Size factor of the actor (1 = nominal).
    pub actor_scale: f32,
    /// Animation phase of the actor's pose in [0, 1] (0.5 = canonical).
    pub actor_phase: f32,
    pub reactor_dx: f32,
    pub reactor_dy: f32,
    pub reactor_scale: f32,
    pub reactor_phase: f32,
    /// Hue rotation of the background, in radians.
    pub bg_hue: f32,
    /// Amplitude of the background's value-noise texture (0 = flat).
    pub bg_texture: f32,
    /// Offset of the texture pattern (which patch of noise is seen), in noise cells.
    pub texture_x: f32,
    pub texture_y: f32,
    /// Overall brightness factor (1 = nominal).
    pub light_level: f32,
    /// Left-to-right brightness slope: the light comes from the left when positive.
    pub light_slope: f32,
}

impl Default for Nuisance {
    fn default() -> Self {
        Self {
            actor_dx: 0.0,
            actor_dy: 0.0,
            actor_scale: 1.0,
            actor_phase: 0.5,
            reactor_dx: 0.0,
            reactor_dy: 0.0,
            reactor_scale: 1.0,
            reactor_phase: 0.5,
            bg_hue: 0.0,
            bg_texture: 0.0,
            texture_x: 0.0,
            texture_y: 0.0,
            light_level: 1.0,
            light_slope: 0.0,
        }
    }
}

impl Nuisance {
    /// Column names, in the order of [`Nuisance::values`].
    pub const COLUMNS: [&'static str; 14] = [
        "actor_dx",
        "actor_dy",
        "actor_scale",
        "actor_phase",
        "reactor_dx",
        "reactor_dy",
        "reactor_scale",
        "reactor_phase",
        "bg_hue",
        "bg_texture",
        "texture_x",
        "texture_y",
        "light_level",
        "light_slope",
    ];

    /// The values, in the order of [`Nuisance::COLUMNS`].
    pub fn values(&self) -> [f32; 14] {
        [
            self.actor_dx,
            self.actor_dy,
            self.actor_scale,
            self.actor_phase,
            self.reactor_dx,
            self.reactor_dy,
            self.reactor_scale,
            self.reactor_phase,
            self.bg_hue,
            self.bg_texture,
            self.texture_x,
            self.texture_y,
            self.light_level,
            self.light_slope,
        ]
    }

    /// Draws nuisance values of the given `strength` (0 = none, 1 = the default amount,
    /// larger values exaggerate; phases saturate at the ends of the animation). Always
    /// draws the same number of random values, so streams stay aligned across strengths.
    pub fn sample(strength: f32, rng: &mut impl Rng) -> Self {
        let s = strength.max(0.0);
        let mut u = [0.0f32; 14];
        for x in u.iter_mut() {
            *x = rng.gen::<f32>() * 2.0 - 1.0;
        }
        if s == 0.0 {
            return Self::default();
        }
        let phase = |v: f32| (0.5 + 0.5 * v * s).clamp(0.0, 1.0);
        Self {
            actor_dx: 0.035 * s * u[0],
            actor_dy: 0.025 * s * u[1],
            actor_scale: (0.1 * s * u[2]).exp(),
            actor_phase: phase(u[3]),
            reactor_dx: 0.035 * s * u[4],
            reactor_dy: 0.025 * s * u[5],
            reactor_scale: (0.1 * s * u[6]).exp(),
            reactor_phase: phase(u[7]),
            bg_hue: 0.6 * s * u[8],
            bg_texture: 0.06 * s * (u[9] + 1.0),
            texture_x: 8.0 * (u[10] + 1.0),
            texture_y: 8.0 * (u[11] + 1.0),
            light_level: (0.2 * s * u[12]).exp(),
            light_slope: 0.35 * s * u[13],
        }
    }
}

//! Poses as joint angles, and the forward kinematics that turn them into a skeleton.
//!
//! Local coordinates: one unit is a fighter's nominal height, the origin is on the
//! ground under the hip, x points the way the fighter faces and y points up. Limb angles
//! are measured from straight down, positive towards the front: 0 hangs, 90° points
//! forward, 180° points up, -90° points backwards.

use super::scene::{Action, Reaction};

/// A point or vector in local coordinates.
pub(crate) type V2 = [f32; 2];

/// Unit vector of a limb angle.
pub(crate) fn dir(angle: f32) -> V2 {
    [angle.sin(), -angle.cos()]
}

pub(crate) fn add(a: V2, b: V2) -> V2 {
    [a[0] + b[0], a[1] + b[1]]
}

pub(crate) fn scale(a: V2, k: f32) -> V2 {
    [a[0] * k, a[1] * k]
}

/// `a + k * b`.
pub(crate) fn mad(a: V2, b: V2, k: f32) -> V2 {
    [a[0] + b[0] * k, a[1] + b[1] * k]
}

pub(crate) fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn deg(d: f32) -> f32 {
    d.to_radians()
}

/// Extra drawing that makes a pose read at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    None,
    /// A motion arc trailing the weapon (attacks).
    Swoosh,
    /// A shout bubble with an exclamation mark above the head (taunt).
    Bubble,
    /// Dust kicked up behind the back foot (walk).
    Dust,
    /// An impact star on the chest (hurt).
    Impact,
    /// A dark pool under the body; the weapon lies on the ground (dying).
    Fallen,
}

/// Joint angles of one pose (radians).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pose {
    /// Torso tilt from vertical, positive leaning forward.
    pub lean: f32,
    /// Head tilt relative to the torso, positive nodding forward.
    pub head: f32,
    /// Upper arm and forearm angles of the front (weapon) arm and the back arm.
    pub arm_f: [f32; 2],
    pub arm_b: [f32; 2],
    /// Thigh and shin angles of the front and back leg.
    pub leg_f: [f32; 2],
    pub leg_b: [f32; 2],
    /// Direction the weapon points from the hand.
    pub weapon: f32,
    /// Whole-body rotation backwards about the hip (dying).
    pub fall: f32,
    /// Height of the lowest point above the ground.
    pub lift: f32,
    /// Forward offset of the hip from the fighter's spot (standing poses).
    pub shift: f32,
    pub effect: Effect,
}

/// The actor's pose for `action` at animation `phase` in [0, 1].
pub(crate) fn action_pose(action: Action, phase: f32) -> Pose {
    let p = phase.clamp(0.0, 1.0);
    match action {
        Action::Attack => attack(p),
        Action::Taunt => Pose {
            lean: deg(-6.0),
            head: deg(-22.0),
            arm_f: [deg(lerp(140.0, 160.0, p)), deg(lerp(165.0, 185.0, p))],
            arm_b: [deg(lerp(-140.0, -160.0, p)), deg(lerp(-165.0, -185.0, p))],
            leg_f: [deg(24.0), deg(6.0)],
            leg_b: [deg(-24.0), deg(-6.0)],
            weapon: deg(lerp(195.0, 215.0, p)),
            fall: 0.0,
            lift: 0.0,
            shift: 0.0,
            effect: Effect::Bubble,
        },
        Action::Walk => {
            let s = lerp(0.8, 1.1, p);
            Pose {
                lean: deg(5.0),
                head: deg(2.0),
                arm_f: [deg(-5.0), deg(100.0)],
                arm_b: [deg(35.0 * s), deg(60.0 * s)],
                leg_f: [deg(24.0 * s), deg(20.0 * s)],
                leg_b: [deg(-22.0 * s), deg(-42.0 * s)],
                weapon: deg(-150.0),
                fall: 0.0,
                lift: 0.0,
                shift: 0.0,
                effect: Effect::Dust,
            }
        }
    }
}

/// The reactor's pose for `reaction` at animation `phase` in [0, 1].
pub(crate) fn reaction_pose(reaction: Reaction, phase: f32) -> Pose {
    let p = phase.clamp(0.0, 1.0);
    match reaction {
        Reaction::Attack => attack(p),
        Reaction::Idle => {
            let b = lerp(-4.0, 4.0, p);
            Pose {
                lean: deg(0.0),
                head: deg(b * 0.5),
                arm_f: [deg(10.0 + b), deg(55.0 + b)],
                arm_b: [deg(-8.0 - b), deg(-2.0 - b)],
                leg_f: [deg(7.0), deg(0.0)],
                leg_b: [deg(-7.0), deg(0.0)],
                weapon: deg(150.0),
                fall: 0.0,
                lift: 0.0,
                shift: 0.0,
                effect: Effect::None,
            }
        }
        Reaction::Hurt => {
            let r = lerp(0.85, 1.15, p);
            Pose {
                lean: deg(-24.0 * r),
                head: deg(-24.0 * r),
                arm_f: [deg(80.0 * r), deg(125.0 * r)],
                arm_b: [deg(95.0 * r), deg(150.0 * r)],
                leg_f: [deg(55.0 * r), deg(5.0)],
                leg_b: [deg(-12.0), deg(-4.0)],
                weapon: deg(175.0),
                fall: 0.0,
                lift: 0.01,
                shift: 0.02,
                effect: Effect::Impact,
            }
        }
        Reaction::Dying => Pose {
            lean: deg(-8.0),
            head: deg(-15.0),
            arm_f: [deg(35.0), deg(60.0)],
            arm_b: [deg(-20.0), deg(0.0)],
            leg_f: [deg(45.0), deg(5.0)],
            leg_b: [deg(25.0), deg(-5.0)],
            weapon: deg(90.0),
            fall: deg(lerp(80.0, 92.0, p)),
            lift: 0.0,
            shift: 0.0,
            effect: Effect::Fallen,
        },
    }
}

/// An overhead swing caught mid-way: lunge, weapon arm forward, back arm thrown back.
fn attack(p: f32) -> Pose {
    Pose {
        lean: deg(14.0),
        head: deg(-10.0),
        arm_f: [deg(lerp(165.0, 120.0, p)), deg(lerp(170.0, 120.0, p))],
        arm_b: [deg(-50.0), deg(-25.0)],
        leg_f: [deg(50.0), deg(4.0)],
        leg_b: [deg(-32.0), deg(-48.0)],
        weapon: deg(lerp(175.0, 125.0, p)),
        fall: 0.0,
        lift: 0.0,
        shift: -0.06,
        effect: Effect::Swoosh,
    }
}

/// Body proportions of a fighter, in local units.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Build {
    pub thigh: f32,
    pub shin: f32,
    /// Satyr: the goat leg's cannon bone (hock to hoof); golem: foot length.
    pub foot: f32,
    /// Goat legs bend backwards at the hock.
    pub goat: bool,
    pub torso: f32,
    pub neck: f32,
    pub head: f32,
    /// Shoulder joint below the neck, along the torso.
    pub shoulder: f32,
    pub upper_arm: f32,
    pub forearm: f32,
    /// Rough radii of body parts, to rest the body on the ground.
    pub limb: f32,
    pub body: f32,
}

/// Joint positions in local coordinates after falling and grounding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Skeleton {
    pub hip: V2,
    pub neck: V2,
    pub head: V2,
    pub shoulder: V2,
    pub elbow_f: V2,
    pub hand_f: V2,
    pub elbow_b: V2,
    pub hand_b: V2,
    pub knee_f: V2,
    pub ankle_f: V2,
    pub toe_f: V2,
    pub knee_b: V2,
    pub ankle_b: V2,
    pub toe_b: V2,
    /// Unit vector along the torso (hip to neck) and the head's up and forward vectors.
    pub up: V2,
    pub head_up: V2,
    pub head_fwd: V2,
    /// Unit vector the weapon points along.
    pub weapon: V2,
    /// The body's own forward vector (rotated with the fall).
    pub fwd: V2,
}

impl Skeleton {
    pub(crate) fn new(build: &Build, pose: &Pose) -> Self {
        let b = build;
        let hip = [0.0, 0.0];
        let up = dir(std::f32::consts::PI - pose.lean);
        let neck = mad(hip, up, b.torso);
        let head_up = dir(std::f32::consts::PI - pose.lean - pose.head);
        let head = mad(neck, head_up, b.neck + b.head);
        let shoulder = mad(neck, up, -b.shoulder);
        let arm = |a: [f32; 2]| {
            let elbow = mad(shoulder, dir(a[0]), b.upper_arm);
            (elbow, mad(elbow, dir(a[1]), b.forearm))
        };
        let (elbow_f, hand_f) = arm(pose.arm_f);
        let (elbow_b, hand_b) = arm(pose.arm_b);
        let leg = |a: [f32; 2]| {
            if b.goat {
                let knee = mad(hip, dir(a[0] + 0.35), b.thigh);
                let hock = mad(knee, dir(a[1] - 0.55), b.shin);
                (knee, hock, mad(hock, dir(a[1] + 0.12), b.foot))
            } else {
                let knee = mad(hip, dir(a[0]), b.thigh);
                let ankle = mad(knee, dir(a[1]), b.shin);
                (knee, ankle, mad(ankle, dir(a[1] + 1.5), b.foot))
            }
        };
        let (knee_f, ankle_f, toe_f) = leg(pose.leg_f);
        let (knee_b, ankle_b, toe_b) = leg(pose.leg_b);
        let mut s = Self {
            hip,
            neck,
            head,
            shoulder,
            elbow_f,
            hand_f,
            elbow_b,
            hand_b,
            knee_f,
            ankle_f,
            toe_f,
            knee_b,
            ankle_b,
            toe_b,
            up,
            head_up,
            head_fwd: [head_up[1], -head_up[0]],
            weapon: dir(pose.weapon),
            fwd: [1.0, 0.0],
        };
        // Fall backwards: rotate counter-clockwise (the head moves to -x) about the hip.
        let (sn, cs) = pose.fall.sin_cos();
        let rot = |v: V2| [v[0] * cs - v[1] * sn, v[0] * sn + v[1] * cs];
        if pose.fall != 0.0 {
            s.map_points(rot);
            for v in [
                &mut s.up,
                &mut s.head_up,
                &mut s.head_fwd,
                &mut s.weapon,
                &mut s.fwd,
            ] {
                *v = rot(*v);
            }
        }
        // Rest the lowest part on the ground; centre standing fighters on the hip and
        // fallen ones on their extent.
        let contacts = [
            (s.toe_f, b.limb * 0.6),
            (s.toe_b, b.limb * 0.6),
            (s.ankle_f, b.limb * 0.7),
            (s.ankle_b, b.limb * 0.7),
            (s.knee_f, b.limb),
            (s.knee_b, b.limb),
            (s.hand_f, b.limb),
            (s.hand_b, b.limb),
            (s.elbow_f, b.limb),
            (s.elbow_b, b.limb),
            (s.head, b.head),
            (s.neck, b.body),
            (s.hip, b.body),
        ];
        let low = contacts
            .iter()
            .map(|(p, r)| p[1] - r)
            .fold(f32::MAX, f32::min);
        let dx = if pose.fall != 0.0 {
            let (lo, hi) = contacts
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), (p, r)| {
                    (lo.min(p[0] - r), hi.max(p[0] + r))
                });
            -(lo + hi) * 0.5
        } else {
            pose.shift
        };
        let dy = pose.lift - low;
        s.map_points(|v| [v[0] + dx, v[1] + dy]);
        s
    }

    fn map_points(&mut self, f: impl Fn(V2) -> V2) {
        for v in [
            &mut self.hip,
            &mut self.neck,
            &mut self.head,
            &mut self.shoulder,
            &mut self.elbow_f,
            &mut self.hand_f,
            &mut self.elbow_b,
            &mut self.hand_b,
            &mut self.knee_f,
            &mut self.ankle_f,
            &mut self.toe_f,
            &mut self.knee_b,
            &mut self.ankle_b,
            &mut self.toe_b,
        ] {
            *v = f(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angles_point_where_documented() {
        let d = dir(0.0);
        assert!((d[0]).abs() < 1e-6 && (d[1] + 1.0).abs() < 1e-6);
        let f = dir(std::f32::consts::FRAC_PI_2);
        assert!((f[0] - 1.0).abs() < 1e-6 && f[1].abs() < 1e-6);
    }
}

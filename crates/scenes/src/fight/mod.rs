//! Fight scenes: role-playing-game duels drawn from the fight-scene causal network
//! (`bayesnet::examples::fight_scene`), the data set of the deep causal generative
//! modelling tutorial, with exact ground truth for every image.
//!
//! Each scene draws one joint sample of the network (forward sampling, under do() when an
//! intervention is given) and renders the six image variables: the **actor** on the left,
//! facing right, doing its **action**; the **reactor** on the right, facing left, showing
//! its **reaction**. The hidden strength, defense and attack variables are recorded but
//! never drawn. Any network whose `actor`, `actor_type`, `action`, `reactor`,
//! `reactor_type` and `reaction` have the tutorial's states (in any order) can be used.
//!
//! How labels look (everything procedural, no assets; dark cartoon outlines keep shapes
//! apart at 64 × 64):
//!
//! | label | drawing |
//! | --- | --- |
//! | Satyr | slim human torso, furry goat legs bent back at the hock, black hooves, horns, beard, tail |
//! | Golem | stone blocks: broad torso, thick limbs, small head between boulder shoulders, glowing eye slit |
//! | Satyr Type1/2/3 | tan fur + green tunic + spear / black fur + red sash + sabre / white fur + blue breastplate + axe |
//! | Golem Type1/2/3 | grey stone + moss + club / sandstone + glowing lava cracks + hammer / slate + cyan crystal spikes + crystal blade |
//! | Attack (action or reaction) | lunge, weapon raised overhead mid-swing, back arm thrown back, white swing arc |
//! | Taunt | upright, both arms up, weapon brandished, shout bubble with a red "!" |
//! | Walk | upright stride, weapon shouldered, arm swinging, dust behind the back foot |
//! | Dying | lying on the back on the ground, dark pool under the body, weapon dropped in front |
//! | Hurt | recoiling: leaning back, head thrown back, arms flung forward, one foot up, impact star on the chest |
//! | Idle | standing relaxed, weapon held up in front |
//!
//! Nuisance ([`Nuisance`]) varies position, size and animation phase of each fighter,
//! the background's hue and texture, and the light; it is drawn independently of the
//! labels and recorded with them. At strength 0 every label combination has exactly one
//! picture (432 in all), with the actor entirely in the left half and the reactor in the
//! right half. Geometry is in image fractions, so any `size` draws the same scene.
//!
//! Entry points: [`generate`] writes a data set folder, [`write_preview`] a contact sheet
//! of the same scenes, [`render`] draws one scene from labels and nuisance.

mod draw_golem;
mod draw_satyr;
mod font;
mod generate;
mod pen;
mod png;
mod poses;
mod preview;
mod render;
mod scene;
mod weapons;

pub use generate::{generate, sample_scenes, FightOptions, FightSummary, Scenes, SPLITS};
pub use preview::{contact_sheet, tile_sheet, write_preview, RgbImage, Tile};
pub use render::{render, render_into};
pub use scene::{
    clean_grid, Action, Character, FightVars, Labels, Nuisance, Reaction, IMAGE_VARIABLES,
};

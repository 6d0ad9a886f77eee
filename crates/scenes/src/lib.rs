//! # scenes
//!
//! Procedural image datasets whose causal factors are known exactly: fight scenes drawn
//! from the fight-scene causal network, and temporal intervened sequences in the CITRIS
//! layouts (a Causal3DIdent-style rendered object, Interventional Pong, ball-in-boxes).
//! Every generator is seeded and deterministic, also when it runs on several threads.

pub mod atomic;
pub mod canvas;
pub mod citris_files;
pub mod error;
pub mod fight;
pub mod manifest;
pub mod npz;
pub mod tris;

pub use canvas::Canvas;
pub use error::{Error, Result};

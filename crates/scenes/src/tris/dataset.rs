//! Placeholder while the module is written; replaced before commit.

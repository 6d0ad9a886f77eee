//! Fight scenes: see the module files.

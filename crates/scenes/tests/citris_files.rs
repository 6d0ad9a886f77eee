//! The CITRIS readers on the real Temporal Causal3DIdent samples in `shared/data`, and
//! their error messages on small malformed files.

use std::io::Write;
use std::path::{Path, PathBuf};

use scenes::citris_files::{SliderFrames, TemporalSequence, Triplets};
use scenes::npz::{Compression, NpzFile, NpzWriter};

/// The shared reference data, or `None` (with a message) when this checkout lacks it.
fn shared(file: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/causal3dident");
    let path = dir.join(file);
    if path.is_file() {
        Some(path)
    } else {
        println!(
            "skipped: {} not found (no shared/ data beside this checkout)",
            path.display()
        );
        None
    }
}

#[test]
fn reads_the_real_causal3d_sequence() {
    let Some(path) = shared("causal3d.npz") else {
        return;
    };
    let seq = TemporalSequence::read(&path).unwrap();
    assert_eq!(seq.imgs.shape(), [100, 64, 64, 4]);
    assert_eq!(seq.len(), 100);
    let interventions = seq.interventions.unwrap();
    assert_eq!(interventions.shape(), [99, 12]);
    let per_column: Vec<usize> = (0..12)
        .map(|k| (0..99).filter(|&t| interventions.row(t)[k]).count())
        .collect();
    // Gamma rotation, shape and material are never intervened on.
    assert_eq!(per_column, [19, 7, 13, 14, 13, 0, 6, 20, 18, 15, 0, 0]);
    assert_eq!(seq.raw_latents, None);
    assert_eq!(seq.shape_latents, None);
}

#[test]
fn reads_the_real_triplets() {
    let Some(path) = shared("causal3d_triplets.npz") else {
        return;
    };
    let triplets = Triplets::read(&path).unwrap();
    assert_eq!(triplets.images.shape(), [100, 3, 64, 64, 4]);
    assert_eq!(triplets.mask.shape(), [100, 12]);
    let first: Vec<u8> = triplets.mask.row(0).iter().map(|&m| u8::from(m)).collect();
    assert_eq!(first, [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1]);
    assert_eq!(triplets.len(), 100);
}

#[test]
fn reads_the_real_slider_frames() {
    let Some(path) = shared("data_slider.npz") else {
        return;
    };
    let slider = SliderFrames::read(&path).unwrap();
    assert_eq!(slider.imgs.shape(), [30, 64, 64, 4]);
    assert_eq!(slider.raw_latents.shape(), [30, 10]);
    assert_eq!(slider.raw_latents.data()[0], -1.573_047_2);
    assert_eq!(slider.shape_latents.unwrap().shape(), [30, 2]);
    assert_eq!(slider.interventions.shape(), [30, 12]);
    assert_eq!(
        slider.interventions.row(0),
        [true, true, true, false, false, false, false, false, false, false, false, false]
    );
}

#[test]
fn reads_compressed_members_of_the_real_files() {
    let Some(path) = shared("data_slider.npz") else {
        return;
    };
    let mut npz = NpzFile::open(&path).unwrap();
    assert_eq!(
        npz.keys(),
        [
            "interventions",
            "latents",
            "shape_latents",
            "raw_latents",
            "imgs"
        ]
    );
    assert_eq!(npz.read::<f64>("interventions").unwrap().shape(), [30, 12]);
    assert_eq!(
        npz.read::<f32>("latents").unwrap(),
        npz.read::<f32>("raw_latents").unwrap()
    );
}

/// Writes `arrays` (each added by the closure) to `name` in a fresh directory.
fn npz_file(dir: &Path, name: &str, fill: impl FnOnce(&mut NpzWriter)) -> PathBuf {
    let path = dir.join(name);
    let mut w = NpzWriter::create(&path, Compression::Stored).unwrap();
    fill(&mut w);
    w.finish().unwrap();
    path
}

fn error<T: std::fmt::Debug>(result: scenes::Result<T>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn malformed_sequences_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let imgs = vec![0u8; 5 * 2 * 2 * 3];

    let path = npz_file(d, "causal3d.npz", |w| {
        w.add("pictures", &[5, 2, 2, 3], &imgs).unwrap();
        w.add("interventions", &[4, 2], &[0i64; 8]).unwrap();
    });
    let e = error(TemporalSequence::read(&path));
    assert!(
        e.ends_with("causal3d.npz: key `imgs` or `images` missing (keys: pictures, interventions)"),
        "{e}"
    );

    let path = npz_file(d, "float.npz", |w| {
        w.add("images", &[5, 2, 2, 3], &imgs).unwrap();
        w.add("interventions", &[4, 2], &[0.0f64; 8]).unwrap();
    });
    let e = error(TemporalSequence::read(&path));
    assert!(
        e.ends_with("float.npz: `interventions` has dtype float64, expected an integer type"),
        "{e}"
    );

    let path = npz_file(d, "rows.npz", |w| {
        w.add("imgs", &[5, 2, 2, 3], &imgs).unwrap();
        w.add("interventions", &[5, 2], &[0i64; 10]).unwrap();
    });
    let e = error(TemporalSequence::read(&path));
    assert!(
        e.ends_with("`interventions` has shape [5, 2], expected [4, K] (one row per transition between the 5 frames of `imgs`)"),
        "{e}"
    );

    let path = npz_file(d, "flags.npz", |w| {
        w.add("imgs", &[5, 2, 2, 3], &imgs).unwrap();
        w.add("interventions", &[4, 2], &[0i64, 1, 0, 0, 2, 0, 0, 0])
            .unwrap();
    });
    let e = error(TemporalSequence::read(&path));
    assert!(
        e.ends_with("`interventions` holds 2 at flat index 4, expected only 0 and 1"),
        "{e}"
    );

    let path = npz_file(d, "flat.npz", |w| w.add("imgs", &[5, 12], &imgs).unwrap());
    let e = error(TemporalSequence::read(&path));
    assert!(
        e.ends_with("`imgs` has shape [5, 12], expected [N, height, width, channels]"),
        "{e}"
    );

    let path = npz_file(d, "latents.npz", |w| {
        w.add("imgs", &[5, 2, 2, 3], &imgs).unwrap();
        w.add("raw_latents", &[4, 3], &[0f32; 12]).unwrap();
        w.add("shape_latents", &[5, 1], &[0i32, 1, 2, 3, 300])
            .unwrap();
    });
    let e = error(TemporalSequence::read(&path));
    assert!(
        e.contains("`raw_latents` has shape [4, 3], expected [5, D] (one row per frame of `imgs`)"),
        "{e}"
    );

    let path = npz_file(d, "labels.npz", |w| {
        w.add("imgs", &[5, 2, 2, 3], &imgs).unwrap();
        w.add("shape_latents", &[5, 1], &[0i32, 1, 2, 3, 300])
            .unwrap();
    });
    let e = error(TemporalSequence::read(&path));
    assert!(
        e.ends_with("`shape_latents` holds 300, expected labels in 0..=255"),
        "{e}"
    );

    let path = npz_file(d, "ok.npz", |w| {
        w.add("imgs", &[5, 2, 2, 3], &imgs).unwrap();
        w.add("interventions", &[4, 2], &[0i64, 1, 0, 0, 1, 0, 0, 0])
            .unwrap();
        w.add("raw_latents", &[5, 1], &[0.5f64; 5]).unwrap();
    });
    let seq = TemporalSequence::read(&path).unwrap();
    assert_eq!(seq.interventions.unwrap().row(0), [false, true]);
    assert_eq!(seq.raw_latents.unwrap().data(), [0.5f32; 5]);
}

#[test]
fn malformed_triplets_and_sliders_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = npz_file(d, "pairs.npz", |w| {
        w.add("images", &[2, 2, 1, 1, 3], &[0u8; 12]).unwrap();
        w.add("mask", &[2, 4], &[0i32; 8]).unwrap();
    });
    let e = error(Triplets::read(&path));
    assert!(
        e.ends_with("`images` has shape [2, 2, 1, 1, 3], expected [M, 3, height, width, channels]"),
        "{e}"
    );

    let path = npz_file(d, "nomask.npz", |w| {
        w.add("imgs", &[2, 3, 1, 1, 3], &[0u8; 18]).unwrap()
    });
    let e = error(Triplets::read(&path));
    assert!(
        e.ends_with("key `mask` or `interventions` missing (keys: imgs)"),
        "{e}"
    );

    let path = npz_file(d, "slider.npz", |w| {
        w.add("imgs", &[2, 1, 1, 3], &[0u8; 6]).unwrap();
        w.add("latents", &[2, 2], &[0f32; 4]).unwrap();
        w.add("interventions", &[2, 3], &[0.0, 1.0, 0.5, 0.0, 0.0, 0.0f64])
            .unwrap();
    });
    let e = error(SliderFrames::read(&path));
    assert!(
        e.ends_with("`interventions` holds 0.5 at flat index 2, expected only 0 and 1"),
        "{e}"
    );
}

/// A zip file with the given raw members, for damage the writer cannot produce.
fn raw_zip(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in members {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// A `.npy` file with a hand-written header dict.
fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out.extend(data);
    out
}

#[test]
fn damaged_and_unsupported_members_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.npz");
    raw_zip(
        &path,
        &[
            (
                "keys.npy",
                npy(
                    "{'descr': '<U2', 'fortran_order': False, 'shape': (1,), }\n",
                    &[0; 8],
                ),
            ),
            (
                "big.npy",
                npy(
                    "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }\n",
                    &[0, 0, 1, 0, 255, 255, 255, 255],
                ),
            ),
            (
                "short.npy",
                npy(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n",
                    &[0; 16],
                ),
            ),
            (
                "columns.npy",
                npy(
                    "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }\n",
                    &[0; 4],
                ),
            ),
            ("junk.npy", b"PK not an array".to_vec()),
        ],
    );
    let mut npz = NpzFile::open(&path).unwrap();
    assert_eq!(npz.keys(), ["keys", "big", "short", "columns", "junk"]);
    assert_eq!(
        npz.read_as_i64("big").unwrap().data(),
        [256, -1],
        "big-endian int32"
    );
    let e = error(npz.read::<u8>("keys"));
    assert!(
        e.ends_with("`keys` has dtype <U2, which is not a numeric type this reader supports"),
        "{e}"
    );
    let e = error(npz.read::<f64>("short"));
    assert!(
        e.ends_with("`short`: shape [3] of float64 does not match the 16 data bytes stored"),
        "{e}"
    );
    let e = error(npz.read::<u8>("columns"));
    assert!(e.contains("Fortran order"), "{e}");
    let e = error(npz.read::<u8>("junk"));
    assert!(
        e.ends_with("`junk`: not a .npy array (bad magic bytes)"),
        "{e}"
    );

    let not_zip = dir.path().join("plain.npz");
    std::fs::write(&not_zip, b"hello").unwrap();
    let e = error(NpzFile::open(&not_zip).map(|_| ()));
    assert!(
        e.contains("plain.npz: not a readable npz (zip) archive"),
        "{e}"
    );
    let e = error(NpzFile::open(&dir.path().join("absent.npz")).map(|_| ()));
    assert!(e.contains("absent.npz"), "{e}");
}

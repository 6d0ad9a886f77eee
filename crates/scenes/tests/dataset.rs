//! The CITRIS-layout writer, exercised with a toy process: a bar whose length random-walks,
//! with a brightness and a categorical colour, each intervened on at random.

use std::cell::RefCell;
use std::fs;
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use scenes::citris_files::{TemporalSequence, Triplets};
use scenes::manifest::Manifest;
use scenes::npz::{Compression, NpzFile};
use scenes::tris::dataset::{write_dataset, DatasetOptions, ProgressEvent};
use scenes::tris::{CausalVariable, TemporalProcess, VariableKind};

const H: usize = 4;
const W: usize = 10;
const PALETTE: [[f32; 3]; 3] = [[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0]];

/// Latents: bar length in [0, 1], brightness in [0.2, 1], colour index 0..3.
struct Bar;

impl TemporalProcess for Bar {
    fn name(&self) -> &str {
        "bar"
    }

    fn frame_shape(&self) -> [usize; 3] {
        [H, W, 3]
    }

    fn variables(&self) -> Vec<CausalVariable> {
        let var = |name: &str, kind, latent| CausalVariable {
            name: name.into(),
            kind,
            latents: vec![latent],
        };
        vec![
            var("length", VariableKind::Continuous { min: 0.0, max: 1.0 }, 0),
            var(
                "brightness",
                VariableKind::Continuous { min: 0.2, max: 1.0 },
                1,
            ),
            var("colour", VariableKind::Categorical { classes: 3 }, 2),
        ]
    }

    fn latent_names(&self) -> Vec<String> {
        vec!["length".into(), "brightness".into(), "colour".into()]
    }

    fn sample_state(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        vec![
            rng.gen(),
            rng.gen_range(0.2..1.0),
            rng.gen_range(0..3) as f32,
        ]
    }

    fn step(&self, state: &[f32], rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<bool>) {
        let fresh = self.sample_state(rng);
        let intervened: Vec<bool> = (0..3).map(|_| rng.gen_bool(0.3)).collect();
        let walked = [
            (state[0] + rng.gen_range(-0.1..0.1)).clamp(0.0, 1.0),
            state[1],
            state[2],
        ];
        let next = (0..3)
            .map(|i| if intervened[i] { fresh[i] } else { walked[i] })
            .collect();
        (next, intervened)
    }

    fn render(&self, state: &[f32], frame: &mut [u8]) {
        let cols = (state[0] * W as f32).round() as usize;
        let colour = PALETTE[state[2] as usize].map(|c| (c * state[1] * 255.0) as u8);
        for (i, pixel) in frame.chunks_exact_mut(3).enumerate() {
            let rgb = if i % W < cols { colour } else { [0; 3] };
            pixel.copy_from_slice(&rgb);
        }
    }

    fn shape_latents(&self, state: &[f32]) -> Vec<u8> {
        vec![state[2] as u8]
    }
}

const FILES: [&str; 8] = [
    "train.npz",
    "val.npz",
    "val_triplets.npz",
    "val_indep.npz",
    "test.npz",
    "test_triplets.npz",
    "test_indep.npz",
    "dataset.json",
];

fn write(out: &Path, n_train: usize, seed: u64) {
    write_dataset(&Bar, out, &DatasetOptions::new(n_train, seed)).unwrap();
}

fn rendered(state: &[f32]) -> Vec<u8> {
    let mut frame = vec![0; H * W * 3];
    Bar.render(state, &mut frame);
    frame
}

#[test]
fn files_have_the_citris_keys_shapes_and_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_dataset(&Bar, dir.path(), &DatasetOptions::new(40, 1)).unwrap();
    let names: Vec<_> = summary
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, FILES);

    for (file, n) in [("train.npz", 40), ("val.npz", 4), ("test.npz", 4)] {
        let mut npz = NpzFile::open(&dir.path().join(file)).unwrap();
        assert_eq!(
            npz.keys(),
            ["imgs", "interventions", "raw_latents", "shape_latents"]
        );
        assert_eq!(npz.read::<u8>("imgs").unwrap().shape(), [n, H, W, 3]);
        let interventions = npz.read::<i64>("interventions").unwrap();
        assert_eq!(interventions.shape(), [n - 1, 3], "one column per variable");
        assert!(interventions.data().iter().all(|&v| v == 0 || v == 1));
        assert_eq!(npz.read::<f32>("raw_latents").unwrap().shape(), [n, 3]);
        assert_eq!(npz.read::<u8>("shape_latents").unwrap().shape(), [n, 1]);
    }
    let train = NpzFile::open(&dir.path().join("train.npz"))
        .unwrap()
        .read::<i64>("interventions")
        .unwrap();
    assert!(train.data().contains(&1) && train.data().contains(&0));

    for file in ["val_indep.npz", "test_indep.npz"] {
        let mut npz = NpzFile::open(&dir.path().join(file)).unwrap();
        assert_eq!(npz.read::<u8>("imgs").unwrap().shape(), [10, H, W, 3]);
        let interventions = npz.read::<i64>("interventions").unwrap();
        assert_eq!(interventions.shape(), [10, 3]);
        assert!(interventions.data().iter().all(|&v| v == 1));
        assert_eq!(npz.read::<f32>("raw_latents").unwrap().shape(), [10, 3]);
        assert_eq!(npz.read::<u8>("shape_latents").unwrap().shape(), [10, 1]);
    }

    for file in ["val_triplets.npz", "test_triplets.npz"] {
        let mut npz = NpzFile::open(&dir.path().join(file)).unwrap();
        assert_eq!(npz.read::<u8>("imgs").unwrap().shape(), [4, 3, H, W, 3]);
        let masks = npz.read::<i32>("interventions").unwrap();
        assert_eq!(masks.shape(), [4, 3]);
        for i in 0..4 {
            let taken = masks.row(i).iter().filter(|&&m| m == 1).count();
            assert!(taken > 0 && taken < 3, "mask {:?} is trivial", masks.row(i));
        }
        assert_eq!(npz.read::<f32>("raw_latents").unwrap().shape(), [4, 3, 3]);
        assert_eq!(npz.read::<u8>("shape_latents").unwrap().shape(), [4, 3, 1]);
    }
}

#[test]
fn frames_are_renders_of_their_latents_and_triplets_mix_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 200, 5);
    let mut seq = NpzFile::open(&dir.path().join("test.npz")).unwrap();
    let (imgs, latents) = (
        seq.read::<u8>("imgs").unwrap(),
        seq.read::<f32>("raw_latents").unwrap(),
    );
    for i in 0..20 {
        assert_eq!(imgs.row(i), rendered(latents.row(i)));
    }

    let mut trip = NpzFile::open(&dir.path().join("test_triplets.npz")).unwrap();
    let imgs = trip.read::<u8>("imgs").unwrap();
    let masks = trip.read::<i32>("interventions").unwrap();
    let triplet_latents = trip.read::<f32>("raw_latents").unwrap();
    for i in 0..20 {
        let (lat, img) = (triplet_latents.row(i), imgs.row(i));
        let (a, b, c) = (&lat[0..3], &lat[3..6], &lat[6..9]);
        let mask: Vec<bool> = masks.row(i).iter().map(|&m| m == 1).collect();
        assert_eq!(Bar.mix(a, b, &mask), c);
        let frame = H * W * 3;
        assert_eq!(&img[..frame], rendered(a));
        assert_eq!(&img[frame..2 * frame], rendered(b));
        assert_eq!(
            &img[2 * frame..],
            rendered(c),
            "third image = render(mix(a, b, mask))"
        );
        assert_ne!(a, b);
        for source in [a, b] {
            assert!(
                (0..20).any(|j| latents.row(j) == source),
                "sources come from test.npz"
            );
        }
    }
}

#[test]
fn citris_readers_accept_our_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 40, 2);
    let seq = TemporalSequence::read(&dir.path().join("train.npz")).unwrap();
    assert_eq!(seq.len(), 40);
    assert_eq!(seq.interventions.unwrap().shape(), [39, 3]);
    assert_eq!(seq.shape_latents.unwrap().shape(), [40, 1]);
    let triplets = Triplets::read(&dir.path().join("val_triplets.npz")).unwrap();
    assert_eq!(triplets.mask.shape(), [4, 3]);
    assert_eq!(triplets.raw_latents.unwrap().shape(), [4, 3, 3]);
}

fn read_all(dir: &Path) -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes_on_any_thread_count() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (dir, threads) in dirs.iter().zip([1, 3]) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| write(dir.path(), 300, 42));
    }
    assert_eq!(read_all(dirs[0].path()), read_all(dirs[1].path()));

    let other = tempfile::tempdir().unwrap();
    write(other.path(), 300, 43);
    let (a, b) = (read_all(dirs[0].path()), read_all(other.path()));
    for (i, file) in FILES.iter().enumerate() {
        assert_ne!(a[i], b[i], "{file} ignores the seed");
    }
}

#[test]
fn manifest_describes_the_data_set() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 40, 9);
    let text = fs::read_to_string(dir.path().join("dataset.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["generator"], "bar");
    assert_eq!(json["causalgen_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["seed"], 9);
    assert_eq!(json["image_shape"], serde_json::json!([H, W, 3]));
    assert_eq!(
        json["splits"],
        serde_json::json!({"train": 40, "val": 4, "test": 4, "val_indep": 10,
            "test_indep": 10, "val_triplets": 4, "test_triplets": 4})
    );
    assert_eq!(json["variables"][2]["name"], "colour");
    assert_eq!(json["variables"][2]["kind"], "categorical");
    assert_eq!(json["variables"][2]["classes"], 3);
    assert_eq!(json["variables"][0]["latents"], serde_json::json!([0]));
    assert_eq!(
        json["latent_names"],
        serde_json::json!(["length", "brightness", "colour"])
    );
    assert_eq!(json["shape_latent_columns"], 1);
    assert_eq!(json["compressed"], false);
    assert!(text.contains("\n  \"generator\""), "pretty-printed");
    let manifest = Manifest::read(&dir.path().join("dataset.json")).unwrap();
    assert_eq!(
        manifest.variables,
        Bar.variables(),
        "reads back what it wrote"
    );
    assert_eq!(manifest.seed, 9);
}

#[test]
fn a_malformed_manifest_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dataset.json");
    fs::write(&path, "{\"generator\": 3}").unwrap();
    let message = Manifest::read(&path).unwrap_err().to_string();
    assert!(message.contains("dataset.json"), "{message}");
    assert!(message.contains("manifest"), "{message}");
}

#[test]
fn compressed_files_hold_the_same_arrays() {
    let (plain, packed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write(plain.path(), 100, 3);
    let options = DatasetOptions {
        compression: Compression::Deflated,
        ..DatasetOptions::new(100, 3)
    };
    write_dataset(&Bar, packed.path(), &options).unwrap();
    let train = |dir: &Path| {
        let mut npz = NpzFile::open(&dir.join("train.npz")).unwrap();
        (
            npz.read::<u8>("imgs").unwrap(),
            npz.read::<f32>("raw_latents").unwrap(),
        )
    };
    assert_eq!(train(plain.path()), train(packed.path()));
    let size = |dir: &Path| fs::metadata(dir.join("train.npz")).unwrap().len();
    assert!(size(packed.path()) < size(plain.path()));
}

#[test]
fn progress_counts_every_rendered_frame() {
    let dir = tempfile::tempdir().unwrap();
    let events = RefCell::new(Vec::<ProgressEvent>::new());
    let report = |e: ProgressEvent| events.borrow_mut().push(e);
    let options = DatasetOptions {
        progress: Some(&report),
        ..DatasetOptions::new(40, 1)
    };
    write_dataset(&Bar, dir.path(), &options).unwrap();
    let events = events.into_inner();
    let last = events.last().unwrap();
    assert_eq!(last.frames_done, last.frames_total);
    assert_eq!(last.frames_total, 40 + 4 + 4 + 10 + 10 + 4 + 4);
    assert!(events
        .windows(2)
        .all(|w| w[0].frames_done < w[1].frames_done));
    assert_eq!(events[0].file, "train.npz");
}

/// Forgets to report an intervention flag for one of its variables.
struct Broken;

impl TemporalProcess for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn frame_shape(&self) -> [usize; 3] {
        Bar.frame_shape()
    }
    fn variables(&self) -> Vec<CausalVariable> {
        Bar.variables()
    }
    fn latent_names(&self) -> Vec<String> {
        Bar.latent_names()
    }
    fn sample_state(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        Bar.sample_state(rng)
    }
    fn step(&self, state: &[f32], rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<bool>) {
        let (next, mut flags) = Bar.step(state, rng);
        flags.pop();
        (next, flags)
    }
    fn render(&self, state: &[f32], frame: &mut [u8]) {
        Bar.render(state, frame)
    }
}

#[test]
fn bad_requests_and_broken_processes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let e = write_dataset(&Bar, dir.path(), &DatasetOptions::new(0, 1)).unwrap_err();
    assert!(e.to_string().contains("at least one frame"), "{e}");
    let e = write_dataset(&Broken, dir.path(), &DatasetOptions::new(10, 1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "process `broken`: step returned 2 intervention flags for 3 variables"
    );
    assert!(!dir.path().join("train.npz").exists());
}

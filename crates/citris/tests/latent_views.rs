//! Latent views end to end on CITRIS' real slider file (Causal3DIdent, RGBA 64 × 64)
//! with an untrained CITRIS-VAE: load, drop alpha, encode, measure, write.

use std::path::PathBuf;

use citris::eval::latent_views::{
    intervene, latent_response, reconstruct, write_intervention_grid, LatentIntervention, Slider,
};
use citris::nets::NetConfig;
use citris::representation::{encode_frames, Representation};
use citris::vae::{CitrisVae, CitrisVaeConfig};
use tch::nn::VarStore;
use tch::Device;

/// Causal variables of the toy model.
const VARIABLES: usize = 6;

#[test]
fn the_real_slider_file_goes_through_an_untrained_model() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/causal3dident/data_slider.npz");
    if !path.is_file() {
        println!("SKIPPED: {} not found", path.display());
        return;
    }
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let net = NetConfig {
        image_size: 64,
        channels: 3,
        width: 8,
        latents: 8,
    };
    let model = CitrisVae::new(vs.root(), &net, VARIABLES, &CitrisVaeConfig::default()).unwrap();
    let assignment = model.assignment().expect("CITRIS learns an assignment");
    let names: Vec<String> = (0..VARIABLES).map(|k| format!("v{k}")).collect();

    let slider = Slider::read(&path, 3).unwrap();
    assert_eq!(slider.frames.size(), [30, 3, 64, 64]);
    // Three sweeps of ten frames, each measured from its first frame.
    assert_eq!(
        slider.reference[..11],
        [0; 10].into_iter().chain([10]).collect::<Vec<_>>()
    );
    assert_eq!(slider.reference[29], 20);

    let response = latent_response(&model, &slider, &assignment, &names, None).unwrap();
    assert_eq!(response.groups.len(), VARIABLES + 1);
    assert_eq!(response.change.len(), 30);
    assert!(response
        .change
        .iter()
        .flatten()
        .all(|v| v.is_finite() && *v >= 0.0));
    assert!(
        response.change[0].iter().all(|&v| v == 0.0),
        "frame 0 is its own reference"
    );

    let out = tempfile::tempdir().unwrap();
    response
        .write_csv(&out.path().join("response.csv"))
        .unwrap();
    response
        .write_png(&out.path().join("response.png"))
        .unwrap();
    let csv = std::fs::read_to_string(out.path().join("response.csv")).unwrap();
    assert_eq!(csv.lines().count(), 31);

    // A traversal of the first variable with latents, over the slider's encodings.
    let variable = assignment[0];
    let images = slider.frames.narrow(0, 0, 2);
    let how = LatentIntervention::Traversal {
        steps: 3,
        range: 2.0,
        pool: encode_frames(&model, &slider.frames, 16),
    };
    let results = intervene(&model, &images, &assignment, variable, &how).unwrap();
    assert_eq!(results.size(), [2, 3, 3, 64, 64]);
    let grid = out.path().join("traversal.png");
    let captions = how.captions(&response.groups[variable]).unwrap();
    let recon = reconstruct(&model, &images).unwrap();
    write_intervention_grid(&grid, &images, &recon, &results, &captions).unwrap();
    assert!(std::fs::read(&grid).unwrap().starts_with(b"\x89PNG"));
}

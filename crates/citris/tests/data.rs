//! Reading a generated data set (ball-in-boxes) through `citris::data`.

use citris::data::{TargetGroups, TrisData};
use scenes::tris::boxes::Boxes;
use scenes::tris::dataset::{write_dataset, DatasetOptions};
use tch::{Device, Kind, Tensor};

#[test]
fn a_generated_data_set_reads_as_pairs_frames_and_triplets() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(&Boxes::new(), dir.path(), &DatasetOptions::new(200, 3)).unwrap();
    let data = TrisData::open(dir.path()).unwrap();
    assert_eq!(data.input_shape(), [3, 32, 32]);
    assert_eq!(data.variables().len(), 3);

    let train = data.sequence("train").unwrap();
    assert_eq!(train.frames.size(), vec![200, 3, 32, 32]);
    assert_eq!(train.pairs(), 199);
    let index = Tensor::from_slice(&[0i64, 5, 198]);
    let (now, next, targets) = train.batch(&index, Device::Cpu);
    assert_eq!(now.size(), vec![3, 3, 32, 32]);
    assert_eq!(targets.size(), vec![3, 3]);
    let frame1 = citris::data::to_input(&train.frames.get(1).unsqueeze(0), Device::Cpu);
    assert!(
        next.get(0).unsqueeze(0).equal(&frame1),
        "frame t+1 of pair 0 is frame 1"
    );
    assert!(f64::try_from(now.max()).unwrap() <= 1.0 && f64::try_from(now.min()).unwrap() >= -1.0);

    // The ball's x inside its box is never intervened on: two targets remain.
    let groups = TargetGroups::from_targets(&train.targets);
    assert_eq!(groups.columns, vec![vec![0], vec![2]]);
    let names: Vec<String> = groups
        .variables(data.variables())
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["ball_b", "ball_y"]);

    let indep = data.independent("test_indep").unwrap();
    assert_eq!(indep.frames.size()[0], indep.latents.size()[0]);
    assert_eq!(indep.latents.size()[1], 3);
    assert_eq!(indep.latents.kind(), Kind::Float);

    let triplets = data.triplets("test_triplets").unwrap();
    let m = triplets.images.size()[0];
    assert_eq!(triplets.images.size(), vec![m, 3, 3, 32, 32]);
    assert_eq!(triplets.mask.size(), vec![m, 3]);
    assert_eq!(triplets.latents.as_ref().unwrap().size(), vec![m, 3, 3]);
}

#[test]
fn a_folder_without_a_manifest_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let message = TrisData::open(dir.path()).unwrap_err().to_string();
    assert!(message.contains("dataset.json"), "{message}");
    assert!(message.contains("causalgen data"), "{message}");
}

//! `causalgen bench data`: frames (or scenes) per second of the dataset generators.

use std::time::Instant;

use anyhow::Result;
use scenes::fight::FightOptions;
use scenes::tris::boxes::Boxes;
use scenes::tris::causal3d::Causal3d;
use scenes::tris::dataset::{write_dataset, DatasetOptions};
use scenes::tris::pong::Pong;
use scenes::tris::TemporalProcess;

/// Times every generator end to end and prints frames per second.
pub(super) fn bench_data(n: usize, seed: u64) -> Result<()> {
    println!(
        "{:<10} {:>10} {:>9} {:>12}   ({} threads)",
        "generator",
        "frames",
        "seconds",
        "frames/s",
        rayon::current_num_threads()
    );
    let report = |name: &str, frames: usize, seconds: f64| {
        println!(
            "{name:<10} {frames:>10} {seconds:>9.2} {:>12.0}",
            frames as f64 / seconds
        );
    };
    let net = bayesnet::examples::fight_scene()?;
    let dir = crate::data::scratch_dir("fight")?;
    let options = FightOptions {
        n,
        seed,
        ..FightOptions::default()
    };
    let start = Instant::now();
    scenes::fight::generate(&net, dir.path(), &options, &|_| ())?;
    report("fight", n, start.elapsed().as_secs_f64());

    let causal3d = Causal3d::new(&["teapot"])?;
    let processes: [(&dyn TemporalProcess, usize); 3] = [
        (&causal3d, n),
        (&Pong::new(), 10 * n),
        (&Boxes::new(), 10 * n),
    ];
    for (process, train) in processes {
        let dir = crate::data::scratch_dir(process.name())?;
        let start = Instant::now();
        let summary = write_dataset(process, dir.path(), &DatasetOptions::new(train, seed))?;
        report(
            process.name(),
            summary.manifest.splits.total(),
            start.elapsed().as_secs_f64(),
        );
    }
    Ok(())
}

//! Distances between label distributions: the exact joint of the six image variables
//! under a query (from `bayesnet`), histograms of labels read off images, and the total
//! variation distances between them, jointly and per variable.

use bayesnet::elimination::{joint_posterior, DEFAULT_TABLE_LIMIT};
use bayesnet::{Assignment, Network};
use serde::{Deserialize, Serialize};

use crate::schema::LabelSchema;
use crate::{Error, Result};

/// Total-variation distances of one label distribution from the exact one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distance {
    /// TV of each image variable's marginal (schema order).
    pub per_variable: Vec<f64>,
    /// The largest marginal TV.
    pub max_marginal: f64,
    /// TV of the joint over all label combinations (432 for the fight scenes).
    pub joint: f64,
}

/// The exact joint P(image variables | do(intervention), evidence), laid out row-major
/// over the schema's variables (the last one fastest), as [`joint_index`] numbers the
/// combinations. Elimination with the six image variables as targets gives the joint
/// directly; it is small (432 entries) however the hidden variables are summed out.
pub fn exact_joint(
    net: &Network,
    schema: &LabelSchema,
    evidence: &Assignment,
    intervention: &Assignment,
) -> Result<Vec<f64>> {
    let cut;
    let net = match intervention.is_empty() {
        true => net,
        false => {
            cut = net.intervene(intervention)?;
            &cut
        }
    };
    let posterior = joint_posterior(net, schema.ids(), evidence, DEFAULT_TABLE_LIMIT)?;
    Ok(posterior.joint.into_values())
}

/// Position of a label combination (one state index per schema variable) in the
/// row-major joint table over `cards`; `None` when a label is out of range (missing).
pub fn joint_index(labels: &[i64], cards: &[i64]) -> Option<usize> {
    let mut index = 0usize;
    for (&label, &card) in labels.iter().zip(cards) {
        if label < 0 || label >= card {
            return None;
        }
        index = index * card as usize + label as usize;
    }
    Some(index)
}

/// The empirical joint distribution of label rows over the combinations of `cards`.
pub fn histogram(rows: &[Vec<i64>], cards: &[i64]) -> Result<Vec<f64>> {
    let cells: usize = cards.iter().map(|&c| c as usize).product();
    let mut counts = vec![0.0; cells];
    for row in rows {
        let index = joint_index(row, cards)
            .ok_or_else(|| Error::Invalid(format!("labels {row:?} do not fit states {cards:?}")))?;
        counts[index] += 1.0;
    }
    let total = rows.len().max(1) as f64;
    Ok(counts.into_iter().map(|c| c / total).collect())
}

/// Marginal of variable `k` of a row-major joint over `cards`.
pub fn marginal(joint: &[f64], cards: &[i64], k: usize) -> Vec<f64> {
    let inner: usize = cards[k + 1..].iter().map(|&c| c as usize).product();
    let card = cards[k] as usize;
    let mut out = vec![0.0; card];
    for (i, p) in joint.iter().enumerate() {
        out[(i / inner) % card] += p;
    }
    out
}

/// Total variation distance ½ Σ |p − q| of two distributions on the same states.
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    debug_assert_eq!(p.len(), q.len());
    0.5 * p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>()
}

/// The distances of `observed` from `exact`, both row-major joints over `cards`.
pub fn distance(observed: &[f64], exact: &[f64], cards: &[i64]) -> Distance {
    let per_variable: Vec<f64> = (0..cards.len())
        .map(|k| total_variation(&marginal(observed, cards, k), &marginal(exact, cards, k)))
        .collect();
    Distance {
        max_marginal: per_variable.iter().copied().fold(0.0, f64::max),
        per_variable,
        joint: total_variation(observed, exact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bayesnet::{Engine, Query};

    #[test]
    fn tv_of_a_histogram_against_a_known_distribution() {
        // Two variables with 2 and 3 states; joint (row-major, the second fastest):
        let exact = [0.1, 0.2, 0.1, 0.3, 0.2, 0.1];
        let cards = [2, 3];
        // Ten draws: (0,0) ×2, (0,1) ×2, (1,0) ×4, (1,2) ×2.
        let mut rows = vec![vec![0, 0]; 2];
        rows.extend(vec![vec![0, 1]; 2]);
        rows.extend(vec![vec![1, 0]; 4]);
        rows.extend(vec![vec![1, 2]; 2]);
        let observed = histogram(&rows, &cards).unwrap();
        assert_eq!(observed, vec![0.2, 0.2, 0.0, 0.4, 0.0, 0.2]);
        let d = distance(&observed, &exact, &cards);
        // Joint: ½ (0.1 + 0 + 0.1 + 0.1 + 0.2 + 0.1) = 0.3.
        assert!((d.joint - 0.3).abs() < 1e-12, "{d:?}");
        // First variable: (0.4, 0.6) vs (0.4, 0.6); second: (0.6, 0.2, 0.2) vs (0.4, 0.4, 0.2).
        assert!(d.per_variable[0].abs() < 1e-12);
        assert!((d.per_variable[1] - 0.2).abs() < 1e-12);
        assert!((d.max_marginal - 0.2).abs() < 1e-12);
        assert_eq!(total_variation(&exact, &exact), 0.0);
        assert!(histogram(&[vec![2, 0]], &cards).is_err());
        assert_eq!(joint_index(&[1, 2], &cards), Some(5));
        assert_eq!(joint_index(&[-1, 2], &cards), None);
    }

    /// The exact joint sums to one and its marginals are the engine's, with evidence and
    /// under an intervention.
    #[test]
    fn exact_joint_marginals_match_the_engine() {
        let net = bayesnet::examples::fight_scene().unwrap();
        let schema = LabelSchema::new(&net).unwrap();
        let evidence = net.assignment(&[("actor", "Satyr")]).unwrap();
        let intervention = net.assignment(&[("action", "Attack")]).unwrap();
        let joint = exact_joint(&net, &schema, &evidence, &intervention).unwrap();
        assert_eq!(joint.len(), 432);
        assert!((joint.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let answer = Engine::new(net.clone())
            .answer(&Query {
                targets: schema.ids().to_vec(),
                evidence,
                intervention,
            })
            .unwrap();
        for (k, (_, m)) in answer.marginals.iter().enumerate() {
            let ours = marginal(&joint, schema.cards(), k);
            for (a, b) in ours.iter().zip(m) {
                assert!(
                    (a - b).abs() < 1e-12,
                    "{}: {ours:?} vs {m:?}",
                    schema.names()[k]
                );
            }
        }
    }
}

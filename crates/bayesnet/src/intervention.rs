//! Interventions by graph surgery: do(X = x) cuts every arrow into X and replaces its
//! table by a point mass on x. Everything downstream then follows the original
//! mechanisms, which is exactly Pearl's truncated factorisation.

use crate::error::Result;
use crate::network::{Assignment, Cpt, Network};

impl Network {
    /// The mutilated network for `do(intervention)`. Any number of variables may be
    /// intervened on at once; an empty intervention returns a copy.
    pub fn intervene(&self, intervention: &Assignment) -> Result<Network> {
        let (name, variables, mut cpts) = self.to_parts();
        for (&v, &state) in intervention {
            let mut table = vec![0.0; self.card(v)];
            table[state] = 1.0;
            cpts[v.0] = Cpt {
                parents: Vec::new(),
                table,
            };
        }
        Network::new(name, variables, cpts)
    }
}

#[cfg(test)]
mod tests {
    use crate::builder::NetworkBuilder;
    use crate::elimination::{joint_posterior, DEFAULT_TABLE_LIMIT};

    /// Confounded treatment: Z -> X, Z -> Y, X -> Y. Conditioning on X leaks information
    /// about Z; intervening does not, and equals the back-door adjustment formula.
    #[test]
    fn do_equals_backdoor_adjustment() {
        let mut b = NetworkBuilder::new("confounded");
        for v in ["z", "x", "y"] {
            b.variable(v, &["0", "1"]).unwrap();
        }
        b.cpt("z", &[], &[0.7, 0.3]).unwrap();
        b.cpt("x", &["z"], &[0.9, 0.1, 0.2, 0.8]).unwrap();
        b.cpt("y", &["x", "z"], &[0.8, 0.2, 0.5, 0.5, 0.6, 0.4, 0.1, 0.9])
            .unwrap();
        let net = b.build().unwrap();
        let (x, y) = (net.var("x").unwrap(), net.var("y").unwrap());
        let do_x1 = net.assignment(&[("x", "1")]).unwrap();
        let cut = net.intervene(&do_x1).unwrap();
        assert!(cut.parents(x).is_empty());
        let p = joint_posterior(&cut, &[y], &Default::default(), DEFAULT_TABLE_LIMIT).unwrap();
        // sum_z P(y=1 | x=1, z) P(z) = 0.4 * 0.7 + 0.9 * 0.3
        let backdoor = 0.4 * 0.7 + 0.9 * 0.3;
        assert!((p.marginal(y)[1] - backdoor).abs() < 1e-15);
        let seen = joint_posterior(&net, &[y], &do_x1, DEFAULT_TABLE_LIMIT).unwrap();
        assert!((seen.marginal(y)[1] - backdoor).abs() > 0.05);
    }
}

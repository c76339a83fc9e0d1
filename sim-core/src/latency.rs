//! One-way message latency models.
//!
//! All parameters are in microseconds (as `f64`, so that published fits such
//! as a 0.235 ms Pareto scale are exact). A sample is rounded to a whole
//! microsecond. Transcendental functions go through `libm`, whose results do
//! not depend on the platform's math library, so a seed gives the same
//! latencies on every OS.

use crate::rng::SimRng;
use crate::time::SimDuration;
use std::fmt;

/// A latency distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same delay.
    Constant {
        /// The delay in microseconds.
        us: f64,
    },
    /// Uniform on `[min_us, max_us]`.
    Uniform {
        /// The shortest delay in microseconds.
        min_us: f64,
        /// The longest delay in microseconds.
        max_us: f64,
    },
    /// Normal, with negative samples clipped to 0.
    Normal {
        /// The mean before clipping, in microseconds; it may be negative.
        mean_us: f64,
        /// The standard deviation in microseconds.
        sd_us: f64,
    },
    /// Exponential with the given mean (rate = 1 / mean).
    Exponential {
        /// The mean delay in microseconds; it must be above 0.
        mean_us: f64,
    },
    /// Pareto with scale `x_m` and shape `alpha`: P(X > x) = (x_m / x)^alpha for x >= x_m.
    Pareto {
        /// The scale `x_m` in microseconds, which is also the shortest delay.
        scale_us: f64,
        /// The shape: the smaller it is, the heavier the tail; at 1 or below the mean is infinite.
        alpha: f64,
    },
    /// A weighted mixture: each sample picks a component with probability weight / total.
    Mixture(Vec<(f64, Latency)>),
    /// A constant offset plus a distribution (a WAN link's propagation delay
    /// plus its queueing, say): draws what `inner` draws.
    Shifted {
        /// The delay added to every sample, in microseconds.
        offset_us: f64,
        /// The distribution drawn on top of the offset.
        inner: Box<Latency>,
    },
}

impl Latency {
    /// Always exactly `d`.
    pub fn constant(d: SimDuration) -> Latency {
        Latency::Constant {
            us: d.as_us() as f64,
        }
    }

    /// No delay at all: the default of every latency in a [`crate::NetConfig`].
    pub fn zero() -> Latency {
        Latency::Constant { us: 0.0 }
    }

    /// Checks the parameters; the error says what would be valid.
    pub fn validate(&self) -> Result<(), String> {
        let finite_nonneg = |name: &str, v: f64| {
            if !v.is_finite() || v < 0.0 {
                Err(format!("{name} must be a finite number >= 0, got {v}"))
            } else {
                Ok(())
            }
        };
        match self {
            Latency::Constant { us } => finite_nonneg("constant latency", *us),
            Latency::Uniform { min_us, max_us } => {
                finite_nonneg("uniform min", *min_us)?;
                finite_nonneg("uniform max", *max_us)?;
                if min_us > max_us {
                    return Err(format!(
                        "latency min {} exceeds max {}",
                        fmt_us(*min_us),
                        fmt_us(*max_us)
                    ));
                }
                Ok(())
            }
            Latency::Normal { mean_us, sd_us } => {
                if !mean_us.is_finite() {
                    return Err("normal mean must be finite".into());
                }
                finite_nonneg("normal sd", *sd_us)
            }
            Latency::Exponential { mean_us } => {
                finite_nonneg("exponential mean", *mean_us)?;
                if *mean_us == 0.0 {
                    return Err("exponential mean must be > 0 (rate must be finite)".into());
                }
                Ok(())
            }
            Latency::Pareto { scale_us, alpha } => {
                finite_nonneg("pareto scale", *scale_us)?;
                if !alpha.is_finite() || *alpha <= 0.0 {
                    return Err(format!("pareto alpha must be > 0, got {alpha}"));
                }
                Ok(())
            }
            Latency::Mixture(parts) => {
                if parts.is_empty() {
                    return Err("a mixture needs at least one component".into());
                }
                for (w, part) in parts {
                    if !w.is_finite() || *w <= 0.0 {
                        return Err(format!("mixture weights must be > 0, got {w}"));
                    }
                    part.validate()?;
                }
                Ok(())
            }
            Latency::Shifted { offset_us, inner } => {
                finite_nonneg("latency offset", *offset_us)?;
                inner.validate()
            }
        }
    }

    /// Draws one latency. Constant latencies draw nothing from the stream.
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        let us = self.sample_us(rng);
        SimDuration(if us <= 0.0 { 0 } else { round_positive(us) })
    }

    /// Draws one latency in (fractional) microseconds.
    pub fn sample_us(&self, rng: &mut SimRng) -> f64 {
        match self {
            Latency::Constant { us } => *us,
            Latency::Uniform { min_us, max_us } => min_us + rng.unit() * (max_us - min_us),
            Latency::Normal { mean_us, sd_us } => {
                // Box-Muller; 1 - unit() is in (0, 1], so the log is finite.
                let u1 = 1.0 - rng.unit();
                let u2 = rng.unit();
                let z = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2);
                (mean_us + sd_us * z).max(0.0)
            }
            Latency::Exponential { mean_us } => -mean_us * libm::log(1.0 - rng.unit()),
            Latency::Pareto { scale_us, alpha } => {
                scale_us / libm::pow(1.0 - rng.unit(), 1.0 / alpha)
            }
            Latency::Mixture(parts) => {
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                let mut pick = rng.unit() * total;
                for (w, part) in parts {
                    if pick < *w {
                        return part.sample_us(rng);
                    }
                    pick -= w;
                }
                // Rounding left `pick` at the very top: take the last component.
                parts.last().expect("validated non-empty").1.sample_us(rng)
            }
            Latency::Shifted { offset_us, inner } => offset_us + inner.sample_us(rng),
        }
    }

    /// The largest value it can take in microseconds, or `None` when it has
    /// no bound.
    pub fn max_us(&self) -> Option<f64> {
        match self {
            Latency::Constant { us } => Some(*us),
            Latency::Uniform { max_us, .. } => Some(*max_us),
            Latency::Normal { mean_us, sd_us } => (*sd_us == 0.0).then(|| mean_us.max(0.0)),
            Latency::Exponential { .. } | Latency::Pareto { .. } => None,
            Latency::Mixture(parts) => parts
                .iter()
                .map(|(_, p)| p.max_us())
                .try_fold(0.0f64, |m, x| x.map(|x| m.max(x))),
            Latency::Shifted { offset_us, inner } => Some(offset_us + inner.max_us()?),
        }
    }

    /// The distribution's mean in microseconds, or `None` when it is infinite.
    pub fn mean_us(&self) -> Option<f64> {
        match self {
            Latency::Constant { us } => Some(*us),
            Latency::Uniform { min_us, max_us } => Some((min_us + max_us) / 2.0),
            Latency::Normal { mean_us, sd_us } => {
                if *sd_us == 0.0 {
                    return Some(mean_us.max(0.0));
                }
                // E[max(X, 0)] = mu * Phi(mu/sd) + sd * phi(mu/sd).
                let a = mean_us / sd_us;
                Some(mean_us * std_normal_cdf(a) + sd_us * std_normal_pdf(a))
            }
            Latency::Exponential { mean_us } => Some(*mean_us),
            Latency::Pareto { scale_us, alpha } => {
                (*alpha > 1.0).then(|| alpha * scale_us / (alpha - 1.0))
            }
            Latency::Mixture(parts) => {
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                let mut sum = 0.0;
                for (w, part) in parts {
                    sum += w / total * part.mean_us()?;
                }
                Some(sum)
            }
            Latency::Shifted { offset_us, inner } => Some(offset_us + inner.mean_us()?),
        }
    }

    /// P(X <= x_us), the cumulative distribution function (before rounding to whole microseconds).
    pub fn cdf(&self, x_us: f64) -> f64 {
        match self {
            Latency::Constant { us } => f64::from(u8::from(x_us >= *us)),
            Latency::Uniform { min_us, max_us } => {
                if x_us < *min_us {
                    0.0
                } else if x_us >= *max_us {
                    1.0
                } else {
                    (x_us - min_us) / (max_us - min_us)
                }
            }
            Latency::Normal { mean_us, sd_us } => {
                if x_us < 0.0 {
                    0.0
                } else if *sd_us == 0.0 {
                    f64::from(u8::from(x_us >= *mean_us))
                } else {
                    std_normal_cdf((x_us - mean_us) / sd_us)
                }
            }
            Latency::Exponential { mean_us } => {
                if x_us < 0.0 {
                    0.0
                } else {
                    1.0 - libm::exp(-x_us / mean_us)
                }
            }
            Latency::Pareto { scale_us, alpha } => {
                if x_us < *scale_us {
                    0.0
                } else {
                    1.0 - libm::pow(scale_us / x_us, *alpha)
                }
            }
            Latency::Mixture(parts) => {
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                parts.iter().map(|(w, p)| w / total * p.cdf(x_us)).sum()
            }
            Latency::Shifted { offset_us, inner } => inner.cdf(x_us - offset_us),
        }
    }
}

fn std_normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2))
}

fn std_normal_pdf(z: f64) -> f64 {
    libm::exp(-0.5 * z * z) / libm::sqrt(std::f64::consts::TAU)
}

/// Renders microseconds briefly, to the nanosecond: `10ms`, `235us`, `602.41us`.
pub fn fmt_us_short(us: f64) -> String {
    if us >= 0.0 && us.fract() == 0.0 && us < 1e15 {
        SimDuration(us as u64).to_string()
    } else {
        let s = format!("{us:.3}");
        format!("{}us", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// Renders microseconds exactly (parses back to the same `f64`): `10ms`, `602.4096385542169us`.
pub fn fmt_us(us: f64) -> String {
    if us >= 0.0 && us.fract() == 0.0 && us < 1e15 {
        SimDuration(us as u64).to_string()
    } else {
        format!("{us}us")
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Latency::Constant { us } => write!(f, "constant({})", fmt_us_short(*us)),
            Latency::Uniform { min_us, max_us } => {
                write!(
                    f,
                    "uniform({}..{})",
                    fmt_us_short(*min_us),
                    fmt_us_short(*max_us)
                )
            }
            Latency::Normal { mean_us, sd_us } => {
                write!(
                    f,
                    "normal(mean {}, sd {})",
                    fmt_us_short(*mean_us),
                    fmt_us_short(*sd_us)
                )
            }
            Latency::Exponential { mean_us } => {
                write!(f, "exponential(mean {})", fmt_us_short(*mean_us))
            }
            Latency::Pareto { scale_us, alpha } => {
                write!(f, "pareto(xm {}, alpha {alpha})", fmt_us_short(*scale_us))
            }
            Latency::Mixture(parts) => {
                write!(f, "mixture(")?;
                for (i, (w, p)) in parts.iter().enumerate() {
                    if i > 0 {
                        write!(f, " + ")?;
                    }
                    write!(f, "{w} {p}")?;
                }
                write!(f, ")")
            }
            Latency::Shifted { offset_us, inner } => {
                write!(f, "{} + {inner}", fmt_us_short(*offset_us))
            }
        }
    }
}

/// `us.round() as u64` for `us > 0` (halves away from zero, saturating),
/// without the libm call `round` is on baseline x86-64: one event in the
/// engine's hot path draws a latency. Exact: below 2^52 the fraction
/// `us - trunc(us)` is computed without rounding (Sterbenz), and from 2^52
/// on every float is a whole number.
#[inline]
pub(crate) fn round_positive(us: f64) -> u64 {
    let whole = us as u64;
    whole.saturating_add(u64::from(us - whole as f64 >= 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{SimRng, Stream};

    const SAMPLES: usize = 200_000;

    fn samples(l: &Latency) -> Vec<f64> {
        let mut rng = SimRng::new(2024, Stream::Custom(1));
        let mut v: Vec<f64> = (0..SAMPLES).map(|_| l.sample_us(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Checks the sample mean against the analytic mean (relative tolerance
    /// `mean_tol`), and that the empirical quantiles at 10%, 50%, 90% and 99%
    /// sit where the analytic CDF says (absolute tolerance 0.01 in probability),
    /// over 200,000 samples at a fixed seed.
    fn check(l: &Latency, mean_tol: f64) {
        l.validate().unwrap();
        let v = samples(l);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let want = l.mean_us().unwrap();
        assert!(
            (mean - want).abs() <= mean_tol * want.abs().max(1.0),
            "{l}: sample mean {mean} vs analytic {want}"
        );
        for q in [0.1, 0.5, 0.9, 0.99] {
            let x = v[(q * v.len() as f64) as usize];
            // Where the distribution has an atom (the clipped normal at 0),
            // the quantile sits anywhere between the CDF's left and right limits.
            let (below, at) = (l.cdf(x - 1e-9), l.cdf(x));
            assert!(
                below - 0.01 < q && q < at + 0.01,
                "{l}: quantile {q} at {x}us has cdf in [{below}, {at}]"
            );
        }
    }

    // An offset moves every sample, the mean and the CDF by the same amount,
    // and draws exactly what the distribution under it draws.
    #[test]
    fn shifted_matches_theory() {
        let inner = Latency::Exponential { mean_us: 1_660.0 };
        let shifted = Latency::Shifted {
            offset_us: 75_000.0,
            inner: Box::new(inner.clone()),
        };
        check(&shifted, 0.01);
        assert_eq!(shifted.cdf(75_000.0), 0.0);
        assert_eq!(shifted.mean_us(), Some(76_660.0));
        let (mut a, mut b) = (
            SimRng::new(3, Stream::Custom(1)),
            SimRng::new(3, Stream::Custom(1)),
        );
        for _ in 0..1_000 {
            assert_eq!(
                shifted.sample_us(&mut a),
                75_000.0 + inner.sample_us(&mut b)
            );
        }
        assert_eq!(shifted.to_string(), "75ms + exponential(mean 1660us)");
        let bad = Latency::Shifted {
            offset_us: -1.0,
            inner: Box::new(inner),
        };
        assert!(bad.validate().is_err());
    }

    // Uniform: sample mean within 1% and quantiles within 0.01 of theory at a fixed seed.
    #[test]
    fn uniform_matches_theory() {
        check(
            &Latency::Uniform {
                min_us: 1_000.0,
                max_us: 5_000.0,
            },
            0.01,
        );
    }

    // Normal clipped at 0 (the seed project's normal(50ms, 50ms)): mean includes the clipping.
    #[test]
    fn clipped_normal_matches_theory() {
        check(
            &Latency::Normal {
                mean_us: 50_000.0,
                sd_us: 50_000.0,
            },
            0.01,
        );
    }

    // Exponential: mean and quantiles match 1 - exp(-x/mean).
    #[test]
    fn exponential_matches_theory() {
        check(&Latency::Exponential { mean_us: 602.41 }, 0.01);
    }

    // Pareto with a finite variance: mean alpha*xm/(alpha-1) and P(X>x) = (xm/x)^alpha.
    #[test]
    fn pareto_matches_theory() {
        check(
            &Latency::Pareto {
                scale_us: 235.0,
                alpha: 10.0,
            },
            0.01,
        );
    }

    // The PBS LNKD-SSD mixture (91.22% Pareto + 8.78% exponential) matches its mixed CDF.
    #[test]
    fn mixture_matches_theory() {
        let lnkd_ssd = Latency::Mixture(vec![
            (
                0.9122,
                Latency::Pareto {
                    scale_us: 235.0,
                    alpha: 10.0,
                },
            ),
            (
                0.0878,
                Latency::Exponential {
                    mean_us: 1_000.0 / 1.66,
                },
            ),
        ]);
        check(&lnkd_ssd, 0.01);
    }

    // A heavy-tailed Pareto (alpha 1.51, LNKD-DISK writes) still matches its quantiles; its mean converges slowly, so 5%.
    #[test]
    fn heavy_pareto_quantiles_match_theory() {
        check(
            &Latency::Pareto {
                scale_us: 1_050.0,
                alpha: 1.51,
            },
            0.05,
        );
    }

    // Constant latency draws nothing and always returns the same value.
    #[test]
    fn constant_draws_nothing() {
        let mut a = SimRng::new(1, Stream::Network);
        let mut b = SimRng::new(1, Stream::Network);
        let c = Latency::constant(SimDuration::from_ms(10));
        assert_eq!(c.sample(&mut a), SimDuration::from_ms(10));
        assert_eq!(a.next_u64(), b.next_u64());
    }

    // Impossible parameters are rejected with a message that names them.
    #[test]
    fn validation_names_the_problem() {
        let e = Latency::Uniform {
            min_us: 5_000.0,
            max_us: 2_000.0,
        }
        .validate()
        .unwrap_err();
        assert_eq!(e, "latency min 5ms exceeds max 2ms");
        assert!(Latency::Constant { us: -1.0 }.validate().is_err());
        assert!(
            Latency::Pareto {
                scale_us: 1.0,
                alpha: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(Latency::Mixture(vec![]).validate().is_err());
    }

    // The hot-path rounding agrees with `f64::round` on halves, on the float
    // just below a half, at and past 2^52, 2^53 and 2^64, and on a million
    // random values over many magnitudes.
    #[test]
    fn round_positive_is_round() {
        let mut xs = vec![
            f64::MIN_POSITIVE,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            1e-300,
            4503599627370495.5,
            4503599627370496.0,
            9007199254740993.0,
            1.8446744073709552e19,
            3.7e19,
            1e300,
            f64::MAX,
            f64::INFINITY,
        ];
        let mut rng = SimRng::new(9, Stream::Custom(2));
        for _ in 0..1_000_000 {
            let scale = libm::pow(10.0, (rng.below(40) as f64) - 10.0);
            xs.push(rng.unit() * scale);
        }
        for x in xs.into_iter().filter(|x| *x > 0.0) {
            assert_eq!(round_positive(x), x.round() as u64, "{x:e}");
            let below = f64::from_bits(x.to_bits() - 1);
            if below > 0.0 {
                assert_eq!(round_positive(below), below.round() as u64, "{below:e}");
            }
        }
    }
}

//! Writing metric families whose samples differ by labels (one per log,
//! per witness, per outcome) with `prometheus-client`'s encoder.

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;

/// A sample's labels.
pub(super) type Labels = Vec<(&'static str, String)>;

/// Whether a family counts up or goes both ways.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Counter,
    Gauge,
}

/// One family of counters or gauges, one sample per label set. A family
/// without samples is left out (a descriptor with no sample says nothing).
pub(super) fn family<V: EncodeCounterValue + EncodeGaugeValue>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: Kind,
    samples: impl IntoIterator<Item = (Labels, V)>,
) -> std::fmt::Result {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let ty = match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
    };
    let mut m = e.encode_descriptor(name, help, None, ty)?;
    for (labels, v) in samples {
        // A sample without labels is written without braces.
        if labels.is_empty() {
            encode_value(&mut m, kind, &v)?;
        } else {
            encode_value(&mut m.encode_family(&labels)?, kind, &v)?;
        }
    }
    Ok(())
}

fn encode_value<V: EncodeCounterValue + EncodeGaugeValue>(
    m: &mut MetricEncoder<'_>,
    kind: Kind,
    v: &V,
) -> std::fmt::Result {
    match kind {
        Kind::Counter => m.encode_counter::<NoLabelSet, V, f64>(v, None),
        Kind::Gauge => m.encode_gauge(v),
    }
}

/// A histogram's sample: per-bucket counts (not cumulative), the last
/// bucket unbounded.
#[derive(Debug)]
pub(super) struct Histogram {
    pub sum: f64,
    pub count: u64,
    /// `(upper bound, observations in this bucket)`; `None`: no bound.
    pub buckets: Vec<(Option<f64>, u64)>,
}

/// One histogram family, one sample per label set.
pub(super) fn histograms(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, Histogram)>,
) -> std::fmt::Result {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let mut m = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in samples {
        // The encoder writes `+Inf` for f64::MAX.
        let buckets: Vec<(f64, u64)> = h
            .buckets
            .iter()
            .map(|(b, n)| (b.unwrap_or(f64::MAX), *n))
            .collect();
        m.encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)?;
    }
    Ok(())
}

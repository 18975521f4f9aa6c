import Foundation
import Prometheus
import VangnetCore

/// The gateway's Prometheus metrics (text format at `GET /metrics`). Labels hold route names,
/// status codes, reason codes, datasets, regions and purposes: never anything about a person.
package final class GatewayMetrics: Sendable {
    package let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250),
        .seconds(1), .seconds(5), .seconds(30), .seconds(120),
    ]

    package init() {}

    /// One answered request: its route, status and time taken.
    func request(_ route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            name: "vangnet_requests_total",
            labels: [("route", route), ("status", String(status))],
            help: "HTTP requests answered, by route and status"
        ).increment()
        registry.makeDurationHistogram(
            name: "vangnet_request_duration_seconds",
            labels: [("route", route)],
            buckets: Self.latencyBuckets,
            help: "Time to answer a request, by route"
        ).record(duration)
    }

    /// A refusal, by its stable code.
    func refusal(_ code: String) {
        registry.makeCounter(
            name: "vangnet_refusals_total",
            labels: [("code", code)],
            help: "Requests refused, by reason code"
        ).increment()
    }

    /// A pushed batch's outcome (`committed`, `duplicate`, `refused`, `failed`).
    func batch(_ outcome: String, dataset: DatasetID?) {
        registry.makeCounter(
            name: "vangnet_batches_total",
            labels: [("outcome", outcome), ("dataset", dataset?.value ?? "unknown")],
            help: "Pushed batches, by outcome and dataset"
        ).increment()
    }

    /// Records of a committed batch: accepted, and rejected by reason code.
    func records(accepted: Int, rejected: [String: Int], dataset: DatasetID) {
        registry.makeCounter(
            name: "vangnet_records_accepted_total",
            labels: [("dataset", dataset.value)],
            help: "Records accepted in committed batches, by dataset"
        ).increment(by: Int64(accepted))
        for (reason, count) in rejected {
            registry.makeCounter(
                name: "vangnet_records_rejected_total",
                labels: [("dataset", dataset.value), ("reason", reason)],
                help: "Records rejected in committed batches, by dataset and reason code"
            ).increment(by: Int64(count))
        }
    }

    /// A pull answered with `records` records.
    func pull(region: RegionNumber, purpose: PurposeID, records: Int) {
        let labels = [("region", String(region.value)), ("purpose", purpose.value)]
        registry.makeCounter(name: "vangnet_pulls_total", labels: labels, help: "Pulls answered, by region and purpose")
            .increment()
        registry.makeCounter(
            name: "vangnet_records_delivered_total",
            labels: labels,
            help: "Records delivered, by region and purpose"
        ).increment(by: Int64(records))
    }

    /// The Prometheus text exposition.
    /// What a region has not collected within its purpose's working days.
    func overdue(region: RegionNumber, purpose: PurposeID, records: Int) {
        registry.makeGauge(
            name: "vangnet_overdue_records",
            labels: [("region", String(region.value)), ("purpose", purpose.value)],
            help: "Records a region has not collected within its purpose's working days (collectWithinWorkingDays)"
        ).set(Double(records))
    }

    package func exposition() -> String { registry.emitToString() }
}

package httpfast

import dto "github.com/prometheus/client_model/go"

// The nsq_* metric families: name, type and help. README.md "Prometheus
// metrics" lists the same families with the same meaning, and
// TestMetricsREADME keeps the two in step.

// family is one metric family's fixed part. Its fields are never modified:
// every scrape's dto.MetricFamily points at them.
type family struct {
	name   string
	typ    dto.MetricType
	labels string // label names, ", "-separated, as the README table shows them
	help   string
}

const (
	gaugeType   = dto.MetricType_GAUGE
	counterType = dto.MetricType_COUNTER
)

// familyIndex names one family of metricFamilies.
type familyIndex int

const (
	mBuildInfo familyIndex = iota
	mHealthy
	mClients
	mProducers
	mTopicMessages
	mTopicMessageBytes
	mTopicDepth
	mTopicBackendDepth
	mTopicPaused
	mTopicCorruptions
	mTopicE2E
	mTopicE2ESamples
	mChannelMessages
	mChannelRequeues
	mChannelTimeouts
	mChannelFinishes
	mChannelDepth
	mChannelBackendDepth
	mChannelInFlight
	mChannelDeferred
	mChannelClients
	mChannelPaused
	mChannelCorruptions
	mChannelE2E
	mChannelE2ESamples
	numFamilies
)

// metricFamilies is every nsq_* family, in exposition order.
var metricFamilies = [numFamilies]family{
	// Daemon-wide families (no labels, except nsq_build_info's version).
	mBuildInfo: {"nsq_build_info", gaugeType, "version",
		"Always 1; the version label is the nsqd release this daemon is compatible with."},
	mHealthy: {"nsq_healthy", gaugeType, "",
		"1 when the daemon is healthy (GET /ping answers OK), 0 after a failed storage write."},
	mClients: {"nsq_clients", gaugeType, "",
		"Open TCP (protocol V2) client connections, subscribed or not."},
	mProducers: {"nsq_producers", gaugeType, "",
		"Open TCP client connections that have published at least once (/stats producers)."},

	// Per-topic families (label topic; the e2e latency also quantile).
	mTopicMessages: {"nsq_topic_messages_total", counterType, "topic",
		"Messages published to the topic since the daemon started."},
	mTopicMessageBytes: {"nsq_topic_message_bytes_total", counterType, "topic",
		"Sum of the body sizes of the messages published to the topic since the daemon started."},
	mTopicDepth: {"nsq_topic_depth", gaugeType, "topic",
		"Messages waiting in the topic (memory and disk) for a channel to take them."},
	mTopicBackendDepth: {"nsq_topic_backend_depth", gaugeType, "topic",
		"Messages waiting in the topic's disk queue."},
	mTopicPaused: {"nsq_topic_paused", gaugeType, "topic",
		"1 when the topic is paused."},
	mTopicCorruptions: {"nsq_topic_disk_corruptions_total", counterType, "topic",
		"Corruption events (bad record or region skipped, torn tail cut, bad header or metadata file) met by the topic's disk queue since it was opened."},
	mTopicE2E: {"nsq_topic_e2e_processing_latency_seconds", gaugeType, "topic, quantile",
		"End-to-end processing latency (publish to FIN) at each configured quantile, over all the topic's channels, in the last half to full --e2e-processing-latency-window-time; NaN without samples."},
	mTopicE2ESamples: {"nsq_topic_e2e_processing_latency_window_samples", gaugeType, "topic",
		"FINs behind nsq_topic_e2e_processing_latency_seconds: the samples in the current window, not a running total."},

	// Per-channel families (labels topic and channel; the e2e latency also
	// quantile).
	mChannelMessages: {"nsq_channel_messages_total", counterType, "topic, channel",
		"Messages put into the channel since the daemon started."},
	mChannelRequeues: {"nsq_channel_requeues_total", counterType, "topic, channel",
		"Messages requeued by a client (REQ) since the daemon started."},
	mChannelTimeouts: {"nsq_channel_timeouts_total", counterType, "topic, channel",
		"In-flight messages whose timeout expired (they were requeued) since the daemon started."},
	mChannelFinishes: {"nsq_channel_finishes_total", counterType, "topic, channel",
		"Messages finished (FIN) on the channel since the daemon started."},
	mChannelDepth: {"nsq_channel_depth", gaugeType, "topic, channel",
		"Messages queued in the channel (memory and disk), excluding in-flight and deferred ones."},
	mChannelBackendDepth: {"nsq_channel_backend_depth", gaugeType, "topic, channel",
		"Messages queued in the channel's disk queue."},
	mChannelInFlight: {"nsq_channel_in_flight", gaugeType, "topic, channel",
		"Messages sent to a subscriber and not yet finished, requeued or timed out."},
	mChannelDeferred: {"nsq_channel_deferred", gaugeType, "topic, channel",
		"Deferred messages (DPUB, or REQ with a delay) waiting for their time."},
	mChannelClients: {"nsq_channel_clients", gaugeType, "topic, channel",
		"Subscribers connected to the channel."},
	mChannelPaused: {"nsq_channel_paused", gaugeType, "topic, channel",
		"1 when the channel is paused."},
	mChannelCorruptions: {"nsq_channel_disk_corruptions_total", counterType, "topic, channel",
		"Corruption events met by the channel's disk queue since it was opened."},
	mChannelE2E: {"nsq_channel_e2e_processing_latency_seconds", gaugeType, "topic, channel, quantile",
		"End-to-end processing latency (publish to FIN) at each configured quantile, in the last half to full --e2e-processing-latency-window-time; NaN without samples."},
	mChannelE2ESamples: {"nsq_channel_e2e_processing_latency_window_samples", gaugeType, "topic, channel",
		"FINs behind nsq_channel_e2e_processing_latency_seconds: the samples in the current window, not a running total."},
}

// Label names, shared by every scrape's label pairs.
var (
	labelVersion  = "version"
	labelTopic    = "topic"
	labelChannel  = "channel"
	labelQuantile = "quantile"
)

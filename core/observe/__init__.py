"""Observe mode: every message on a RabbitMQ vhost along the path RabbitMQ reports (the firehose).

firehose: what one trace message says (decoded, nothing inferred)
correlate: which publish a delivery belongs to, and when an untraced ack settled a copy
loop: the loop on the runner: mqscope's own trace queue, the depth poll, tracing on and off
"""

package httpfast

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"nsqreactor/core"
)

// Topic and channel management (POST /topic/… and /channel/…). Request
// bodies are ignored. The checks and their order are upstream's, including
// its inconsistencies (spec §5.7): the topic endpoints say INVALID_TOPIC and
// only create and empty validate the name (delete, pause and unpause answer
// 404 for an invalid one); the channel endpoints say INVALID_ARG_TOPIC and
// INVALID_ARG_CHANNEL and validate both names first.
//
// Pause and unpause rewrite nsqd.dat before answering, as upstream does
// ("pro-actively persist metadata so in case of process failure").

// topicCreate is POST /topic/create?topic=T (idempotent).
func (s *Server) topicCreate(ctx *fasthttp.RequestCtx, _ string) *apiError {
	q, err := s.query(ctx)
	if err != nil {
		return err
	}
	defer releaseQuery(q)
	if _, err := s.topicFromQuery(q); err != nil {
		return err
	}
	respondV1Empty(ctx)
	return nil
}

// topicDelete is POST /topic/delete?topic=T.
func (s *Server) topicDelete(ctx *fasthttp.RequestCtx, _ string) *apiError {
	name, err := s.topicParam(ctx, false)
	if err != nil {
		return err
	}
	if s.nsqd.DeleteExistingTopic(name) != nil {
		return errTopicNotFound
	}
	respondV1Empty(ctx)
	return nil
}

// topicEmpty is POST /topic/empty?topic=T.
func (s *Server) topicEmpty(ctx *fasthttp.RequestCtx, _ string) *apiError {
	name, err := s.topicParam(ctx, true)
	if err != nil {
		return err
	}
	t, terr := s.nsqd.GetExistingTopic(name)
	if terr != nil {
		return errTopicNotFound
	}
	t.Empty()
	respondV1Empty(ctx)
	return nil
}

// topicPause is POST /topic/pause and /topic/unpause; like upstream it
// decides by whether the path contains "unpause".
func (s *Server) topicPause(ctx *fasthttp.RequestCtx, _ string) *apiError {
	name, err := s.topicParam(ctx, false)
	if err != nil {
		return err
	}
	t, terr := s.nsqd.GetExistingTopic(name)
	if terr != nil {
		return errTopicNotFound
	}
	if isUnpause(ctx) {
		t.UnPause()
	} else {
		t.Pause()
	}
	s.persistMetadata()
	respondV1Empty(ctx)
	return nil
}

// topicParam returns the first "topic" value (MISSING_ARG_TOPIC without
// one), checking the name (INVALID_TOPIC) when validate is set.
func (s *Server) topicParam(ctx *fasthttp.RequestCtx, validate bool) (string, *apiError) {
	q, err := s.query(ctx)
	if err != nil {
		return "", err
	}
	defer releaseQuery(q)
	name, ok := q.get("topic")
	if !ok {
		return "", errMissingArgTopic
	}
	if validate && !core.IsValidName(name) {
		return "", errInvalidTopic
	}
	return string(name), nil
}

// channelCreate is POST /channel/create?topic=T&channel=C; the topic must
// exist (upstream does not create it here).
func (s *Server) channelCreate(ctx *fasthttp.RequestCtx, _ string) *apiError {
	t, name, err := s.topicChannelArgs(ctx)
	if err != nil {
		return err
	}
	if _, cerr := t.GetChannel(name); cerr != nil {
		return errExiting
	}
	respondV1Empty(ctx)
	return nil
}

// channelDelete is POST /channel/delete?topic=T&channel=C.
func (s *Server) channelDelete(ctx *fasthttp.RequestCtx, _ string) *apiError {
	t, name, err := s.topicChannelArgs(ctx)
	if err != nil {
		return err
	}
	if t.DeleteExistingChannel(name) != nil {
		return errChannelNotFound
	}
	respondV1Empty(ctx)
	return nil
}

// channelEmpty is POST /channel/empty?topic=T&channel=C.
func (s *Server) channelEmpty(ctx *fasthttp.RequestCtx, _ string) *apiError {
	t, name, err := s.topicChannelArgs(ctx)
	if err != nil {
		return err
	}
	ch, cerr := t.GetExistingChannel(name)
	if cerr != nil {
		return errChannelNotFound
	}
	ch.Empty()
	respondV1Empty(ctx)
	return nil
}

// channelPause is POST /channel/pause and /channel/unpause.
func (s *Server) channelPause(ctx *fasthttp.RequestCtx, _ string) *apiError {
	t, name, err := s.topicChannelArgs(ctx)
	if err != nil {
		return err
	}
	ch, cerr := t.GetExistingChannel(name)
	if cerr != nil {
		return errChannelNotFound
	}
	if isUnpause(ctx) {
		ch.UnPause()
	} else {
		ch.Pause()
	}
	s.persistMetadata()
	respondV1Empty(ctx)
	return nil
}

// persistMetadata writes nsqd.dat now; a failure is logged (upstream
// ignores it; the answer is 200 either way).
func (s *Server) persistMetadata() {
	if err := s.nsqd.PersistMetadata(); err != nil {
		s.log.Logf(core.LogLevelError, "failed to persist metadata - %s", err)
	}
}

// topicChannelArgs is upstream's http_api.GetTopicChannelArgs followed by
// the topic lookup: MISSING_ARG_TOPIC, INVALID_ARG_TOPIC,
// MISSING_ARG_CHANNEL, INVALID_ARG_CHANNEL, then TOPIC_NOT_FOUND.
func (s *Server) topicChannelArgs(ctx *fasthttp.RequestCtx) (*core.Topic, string, *apiError) {
	q, err := s.query(ctx)
	if err != nil {
		return nil, "", err
	}
	defer releaseQuery(q)
	topic, ok := q.get("topic")
	if !ok {
		return nil, "", errMissingArgTopic
	}
	if !core.IsValidName(topic) {
		return nil, "", errInvalidArgTopic
	}
	channel, ok := q.get("channel")
	if !ok {
		return nil, "", errMissingArgChannel
	}
	if !core.IsValidName(channel) {
		return nil, "", errInvalidArgChannel
	}
	t, terr := s.nsqd.GetExistingTopic(string(topic))
	if terr != nil {
		return nil, "", errTopicNotFound
	}
	return t, string(channel), nil
}

// isUnpause reports whether the request path contains "unpause".
func isUnpause(ctx *fasthttp.RequestCtx) bool {
	return bytes.Contains(ctx.URI().PathOriginal(), []byte("unpause"))
}

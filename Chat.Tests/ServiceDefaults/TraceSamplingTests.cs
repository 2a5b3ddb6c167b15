using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace Chat.Tests.ServiceDefaults;

public sealed class TraceSamplingTests
{
    [Theory]
    [InlineData("/health", true)]
    [InlineData("/alive", true)]
    [InlineData("/health/", true)]
    [InlineData("/rest/health", true)]
    [InlineData("/websocket/alive", true)]
    [InlineData("/grpc.health.v1.Health/Check", true)]
    [InlineData("/grpc.health.v1.Health/Watch", true)]
    [InlineData("/grpc/grpc.health.v1.Health/Check", true)]
    [InlineData("/chat", false)]
    [InlineData("/rest/chat", false)]
    [InlineData("/stats", false)]
    [InlineData("/rest/stats", false)]
    [InlineData("/healthz", false)]
    [InlineData("/a/b/health", false)]
    [InlineData("/chat.llm.v1.LlmService/GetStats", false)]
    [InlineData("", false)]
    public void IsProbe_MatchesHealthAndAlive_AlsoBehindOnePrefix_AndGrpcHealth(string path, bool probe) =>
        Assert.Equal(probe, TraceSampling.IsProbe(new PathString(path)));

    [Theory]
    [InlineData(ActivityKind.Server, SamplingDecision.RecordAndSample)]
    [InlineData(ActivityKind.Internal, SamplingDecision.RecordAndSample)]
    [InlineData(ActivityKind.Consumer, SamplingDecision.RecordAndSample)]
    [InlineData(ActivityKind.Client, SamplingDecision.Drop)]
    [InlineData(ActivityKind.Producer, SamplingDecision.Drop)]
    public void Root_IsRecordedUnlessItIsAnOutgoingCallWithNothingAbove(ActivityKind kind, SamplingDecision expected)
    {
        var sampler = TraceSampling.CreateSampler(Configuration(("OTEL_TRACES_SAMPLER", "always_on")));
        var decision = sampler.ShouldSample(new SamplingParameters(default, ActivityTraceId.CreateRandom(), "span", kind));
        Assert.Equal(expected, decision.Decision);
    }

    [Fact]
    public void GrpcClientActivity_WithoutAParent_IsDropped_BeforeItsInstrumentationSetsTheKind()
    {
        var sampler = TraceSampling.CreateSampler(Configuration());
        var decision = sampler.ShouldSample(new SamplingParameters(default, ActivityTraceId.CreateRandom(), "Grpc.Net.Client.GrpcOut", ActivityKind.Internal));
        Assert.Equal(SamplingDecision.Drop, decision.Decision);
    }

    [Theory]
    [InlineData(ActivityTraceFlags.Recorded, false, SamplingDecision.RecordAndSample)]
    [InlineData(ActivityTraceFlags.None, false, SamplingDecision.Drop)]
    [InlineData(ActivityTraceFlags.Recorded, true, SamplingDecision.RecordAndSample)]
    [InlineData(ActivityTraceFlags.None, true, SamplingDecision.Drop)]
    public void Child_FollowsItsParent_LocalOrRemote_WhateverItsKind(ActivityTraceFlags parentFlags, bool remote, SamplingDecision expected)
    {
        // Aspire sets always_on in Development: the children of a filtered probe must still be dropped.
        var sampler = TraceSampling.CreateSampler(Configuration(("OTEL_TRACES_SAMPLER", "always_on")));
        var parent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), parentFlags, isRemote: remote);
        foreach (var kind in new[] { ActivityKind.Server, ActivityKind.Client, ActivityKind.Internal })
        {
            Assert.Equal(expected, sampler.ShouldSample(new SamplingParameters(parent, parent.TraceId, "span", kind)).Decision);
        }
    }

    [Fact]
    public void ConfiguredRatio_StillAppliesToRoots()
    {
        var sampler = TraceSampling.CreateSampler(Configuration(("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0")));
        Assert.Equal(SamplingDecision.Drop,
            sampler.ShouldSample(new SamplingParameters(default, ActivityTraceId.CreateRandom(), "span", ActivityKind.Server)).Decision);
        var off = TraceSampling.CreateSampler(Configuration(("OTEL_TRACES_SAMPLER", "always_off")));
        Assert.Equal(SamplingDecision.Drop,
            off.ShouldSample(new SamplingParameters(default, ActivityTraceId.CreateRandom(), "span", ActivityKind.Server)).Decision);
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}

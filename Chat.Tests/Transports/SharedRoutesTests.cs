using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Transports;

/// <summary>The routes every HTTP transport serves from Chat.Transports.Shared, checked on each of them.</summary>
[Collection(HttpTransportCollection.Name)]
public sealed class SharedRoutesTests(HttpTransportFixture fixture)
{
    public static TheoryData<string> Transports => new() { "rest", "streaming", "sse" };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Sessions_CreateInfoListClearDelete_WithTheOriginalBodies(string transport)
    {
        using var client = await ClientAsync(transport);

        var created = await (await client.PostAsJsonAsync("sessions/new", new { }).DefaultTimeout()).ReadJsonObjectAsync();
        var id = created.Str("session_id")!;
        Assert.Equal("offline-echo-1", created.Str("model"));
        Assert.NotNull(created["timestamp"]);
        using (var rest = (await fixture.RestAsync()).CreateClient())
        {
            using var reply = await rest.PostAsJsonAsync("chat", new { message = "fill it", session_id = id }).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        }

        var info = await client.GetFromJsonAsync<JsonObject>($"sessions/{id}").DefaultTimeout();
        Assert.Equal(id, info.Str("session_id"));
        Assert.Equal(2, (int)info!["message_count"]!);
        Assert.Equal(1, (int)info["user_messages"]!);
        Assert.Equal(1, (int)info["model_messages"]!);
        Assert.True((double)info["session_duration_seconds"]! >= 0);
        Assert.NotNull(info["created_at"]);

        var list = await client.GetFromJsonAsync<JsonObject>("sessions").DefaultTimeout();
        var listed = Assert.Single(list!["sessions"]!.AsArray(), s => s.Str("session_id") == id)!;
        Assert.Equal(2, (int)listed["message_count"]!);
        Assert.NotNull(listed["duration_minutes"]);
        Assert.NotNull(listed["last_activity"]);
        Assert.True((int)list["active_sessions"]! >= 1);

        using var clear = await client.PostAsync($"sessions/{id}/clear", null).DefaultTimeout();
        Assert.Equal($"Session {id} history cleared successfully", (await clear.ReadJsonObjectAsync()).Str("message"));
        Assert.Equal(0, (int)(await client.GetFromJsonAsync<JsonObject>($"sessions/{id}").DefaultTimeout())!["message_count"]!);

        using var delete = await client.DeleteAsync($"sessions/{id}").DefaultTimeout();
        Assert.Equal($"Session {id} deleted successfully", (await delete.ReadJsonObjectAsync()).Str("message"));
        using var gone = await client.GetAsync($"sessions/{id}").DefaultTimeout();
        Assert.Equal("Session not found", await gone.AssertProblemAsync(StatusCodes.Status404NotFound));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Sessions_UnknownOrMalformedId_Return404WithTheOriginalDetail(string transport)
    {
        using var client = await ClientAsync(transport);
        foreach (var id in new[] { Guid.NewGuid().ToString(), "not-a-session" })
        {
            using var get = await client.GetAsync($"sessions/{id}").DefaultTimeout();
            using var delete = await client.DeleteAsync($"sessions/{id}").DefaultTimeout();
            using var clear = await client.PostAsync($"sessions/{id}/clear", null).DefaultTimeout();
            using var history = await client.GetAsync($"sessions/{id}/history").DefaultTimeout();

            Assert.Equal("Session not found", await history.AssertProblemAsync(StatusCodes.Status404NotFound));
            Assert.Equal("Session not found", await get.AssertProblemAsync(StatusCodes.Status404NotFound));
            Assert.Equal("Session not found", await delete.AssertProblemAsync(StatusCodes.Status404NotFound));
            Assert.Equal("Session not found", await clear.AssertProblemAsync(StatusCodes.Status404NotFound));
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Sessions_OfAnotherPrincipal_AreNotFoundOrListed(string transport)
    {
        using var client = await ClientAsync(transport);
        using var create = HttpStreams.PostJson("sessions/new", new { });
        create.Headers.Add("X-Chat-Principal", "alice");
        var id = (await (await client.SendAsync(create).DefaultTimeout()).ReadJsonObjectAsync()).Str("session_id");

        using var asBob = new HttpRequestMessage(HttpMethod.Get, $"sessions/{id}");
        asBob.Headers.Add("X-Chat-Principal", "bob");
        using var bobSees = await client.SendAsync(asBob).DefaultTimeout();
        using var bobReads = new HttpRequestMessage(HttpMethod.Get, $"sessions/{id}/history");
        bobReads.Headers.Add("X-Chat-Principal", "bob");
        using var bobHistory = await client.SendAsync(bobReads).DefaultTimeout();
        using var aliceReads = new HttpRequestMessage(HttpMethod.Get, $"sessions/{id}/history");
        aliceReads.Headers.Add("X-Chat-Principal", "alice");
        using var aliceHistory = await client.SendAsync(aliceReads).DefaultTimeout();
        using var asAlice = new HttpRequestMessage(HttpMethod.Get, "sessions");
        asAlice.Headers.Add("X-Chat-Principal", "alice");
        var aliceList = await (await client.SendAsync(asAlice).DefaultTimeout()).ReadJsonObjectAsync();
        var anonymousList = await client.GetFromJsonAsync<JsonObject>("sessions").DefaultTimeout();

        await bobSees.AssertProblemAsync(StatusCodes.Status404NotFound);
        Assert.Equal("Session not found", await bobHistory.AssertProblemAsync(StatusCodes.Status404NotFound));
        Assert.Equal(HttpStatusCode.OK, aliceHistory.StatusCode);
        Assert.Contains(aliceList["sessions"]!.AsArray(), s => s.Str("session_id") == id);
        Assert.DoesNotContain(anonymousList!["sessions"]!.AsArray(), s => s.Str("session_id") == id);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task History_IsTheConversationOldestFirst_InPagesFromTheNewest_AndTheListShowsItsTitle(string transport)
    {
        using var client = await ClientAsync(transport);
        const string first = "Plan a three-day trip to Lisbon with a focus on tiles, bakeries and old trams please";
        string? id = null;
        using (var rest = (await fixture.RestAsync()).CreateClient())
        {
            foreach (var message in new[] { first, "Second question", "Third question" })
            {
                using var reply = await rest.PostAsJsonAsync("chat", new { message, session_id = id }).DefaultTimeout();
                Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
                id = (await reply.ReadJsonObjectAsync()).Str("session_id");
            }
        }

        var whole = await client.GetFromJsonAsync<JsonObject>($"sessions/{id}/history").DefaultTimeout();
        var newest = await client.GetFromJsonAsync<JsonObject>($"sessions/{id}/history?limit=4").DefaultTimeout();
        var older = await client.GetFromJsonAsync<JsonObject>($"sessions/{id}/history?limit=4&before={(int)newest!["next_before"]!}").DefaultTimeout();
        var list = await client.GetFromJsonAsync<JsonObject>("sessions").DefaultTimeout();

        Assert.Equal(id, whole.Str("session_id"));
        Assert.Equal(6, (int)whole!["total"]!);
        var all = whole["messages"]!.AsArray();
        Assert.Equal([0, 1, 2, 3, 4, 5], all.Select(m => (int)m!["index"]!));
        Assert.Equal(["user", "model", "user", "model", "user", "model"], all.Select(m => m.Str("role")));
        Assert.Equal(first, all[0].Str("text"));
        Assert.Contains("Turn 3 of this conversation", all[5].Str("text"));
        Assert.False((bool)whole["has_more"]!);
        Assert.Null(whole["next_before"]);
        Assert.All(all, m => Assert.True(DateTimeOffset.Parse(m.Str("timestamp")!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5)));
        Assert.Equal(all[0].Str("turn_id"), all[1].Str("turn_id"));

        Assert.Equal([2, 3, 4, 5], newest["messages"]!.AsArray().Select(m => (int)m!["index"]!));
        Assert.True((bool)newest["has_more"]!);
        Assert.Equal(2, (int)newest["next_before"]!);
        Assert.Equal([0, 1], older!["messages"]!.AsArray().Select(m => (int)m!["index"]!));
        Assert.Equal(first, older["messages"]![0].Str("text"));
        Assert.False((bool)older["has_more"]!);
        Assert.Equal(6, (int)older["total"]!);

        var listed = Assert.Single(list!["sessions"]!.AsArray(), s => s.Str("session_id") == id)!;
        Assert.Equal("Plan a three-day trip to Lisbon with a focus on tiles,…", listed.Str("title"));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task History_OfAnEmptySession_IsEmpty_AndItsListTitleIsNull(string transport)
    {
        using var client = await ClientAsync(transport);
        var id = (await (await client.PostAsJsonAsync("sessions/new", new { }).DefaultTimeout()).ReadJsonObjectAsync()).Str("session_id");

        var history = await client.GetFromJsonAsync<JsonObject>($"sessions/{id}/history").DefaultTimeout();
        var list = await client.GetFromJsonAsync<JsonObject>("sessions").DefaultTimeout();

        Assert.Equal(0, (int)history!["total"]!);
        Assert.Empty(history["messages"]!.AsArray());
        Assert.False((bool)history["has_more"]!);
        var listed = Assert.Single(list!["sessions"]!.AsArray(), s => s.Str("session_id") == id)!;
        Assert.True(listed.AsObject().ContainsKey("title"));
        Assert.Null(listed["title"]);
    }

    [Theory]
    [InlineData("limit=0", "limit must be a whole number from 1 to 500")]
    [InlineData("limit=501", "limit must be a whole number from 1 to 500")]
    [InlineData("limit=ten", "limit must be a whole number from 1 to 500")]
    [InlineData("before=-1", "before must be a message index (a whole number, 0 or more)")]
    [InlineData("before=x", "before must be a message index (a whole number, 0 or more)")]
    public async Task History_WithBadPaging_Is400ProblemDetailsNamingTheParameter(string query, string detail)
    {
        using var client = await ClientAsync("rest");
        var id = (await (await client.PostAsJsonAsync("sessions/new", new { }).DefaultTimeout()).ReadJsonObjectAsync()).Str("session_id");

        using var response = await client.GetAsync($"sessions/{id}/history?{query}").DefaultTimeout();

        Assert.Equal(detail, await response.AssertProblemAsync(StatusCodes.Status400BadRequest));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Health_HasTheOriginalShape_AndStaysTheReadyProbe(string transport)
    {
        using var client = await ClientAsync(transport);

        using var response = await client.GetAsync("health").DefaultTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"{transport}-1", response.Headers.GetValues("X-Served-By").Single().Split('/')[1]);
        var health = await response.ReadJsonObjectAsync();
        Assert.Equal("healthy", health.Str("status"));
        Assert.Equal("offline-echo-1", health.Str("model"));
        foreach (var field in new[] { "uptime_seconds", "total_requests", "successful_requests", "failed_requests", "active_sessions" })
        {
            Assert.True(health[field] is JsonValue, field);
        }

        Assert.Equal(transport != "rest", health.ContainsKey("streaming_connections"));
        Assert.Equal("reachable", health.Str("llm_service"));
        using var alive = await client.GetAsync("alive").DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Root_DescribesTheServiceAndItsRoutes(string transport)
    {
        using var client = await ClientAsync(transport);

        var info = await client.GetFromJsonAsync<JsonObject>("").DefaultTimeout();

        Assert.StartsWith("GenAI", info.Str("name"));
        Assert.Equal("offline-echo-1", info.Str("model"));
        Assert.NotEmpty(info!["features"]!.AsArray());
        var endpoints = info["endpoints"]!.AsObject();
        Assert.Equal("POST /sessions/new", endpoints.Str("new_session"));
        Assert.Equal("GET /stats", endpoints.Str("stats"));
        Assert.Equal(transport == "rest" ? "POST /chat" : "POST /chat/stream", endpoints.Str(transport == "rest" ? "chat" : "chat_stream"));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Docs_ServeTheOpenApiDocumentAndAReferencePage(string transport)
    {
        using var client = await ClientAsync(transport);

        var document = await client.GetFromJsonAsync<JsonObject>("openapi/v1.json").DefaultTimeout();
        using var docs = await client.GetAsync("docs/").DefaultTimeout();
        using var prefixed = new HttpRequestMessage(HttpMethod.Get, "openapi/v1.json");
        prefixed.Headers.Add("X-Forwarded-Prefix", "/" + transport);
        var behindGateway = await (await client.SendAsync(prefixed).DefaultTimeout()).ReadJsonObjectAsync();

        var paths = document!["paths"]!.AsObject();
        Assert.True(paths.ContainsKey("/sessions/new"));
        Assert.True(paths.ContainsKey(transport == "rest" ? "/chat" : "/chat/stream"));
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Equal("text/html", docs.ContentType()?.MediaType);
        Assert.Contains("openapi/v1.json", await docs.Content.ReadAsStringAsync());
        Assert.Equal($"/{transport}/", behindGateway["servers"]![0]!.Str("url"));
    }

    [Theory]
    [InlineData("streaming", "chat/stream")]
    [InlineData("sse", "chat/turns")]
    public async Task Demo_IsAPageThatUsesOnlyRelativeUrls(string transport, string chatRoute)
    {
        using var client = await ClientAsync(transport);

        using var response = await client.GetAsync("demo").DefaultTimeout();
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/html", response.ContentType()?.MediaType);
        Assert.Contains($"'{chatRoute}'", html);
        Assert.Contains("'sessions/new'", html);
        Assert.DoesNotContain("fetch('/", html);
        Assert.DoesNotContain("EventSource('/", html);
    }

    private async Task<HttpClient> ClientAsync(string transport) => transport switch
    {
        "rest" => (await fixture.RestAsync()).CreateClient(),
        "streaming" => (await fixture.StreamingAsync()).CreateClient(),
        "sse" => (await fixture.SseAsync()).CreateClient(),
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };
}

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddLlmServices();

var app = builder.Build();

app.UseServedByHeader();
app.MapDefaultEndpoints();
app.MapLlmApi();

app.Run();

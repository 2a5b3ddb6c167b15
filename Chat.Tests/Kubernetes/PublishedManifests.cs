using System.Diagnostics;
using System.Text;
using k8s;
using k8s.Models;

namespace Chat.Tests.Kubernetes;

/// <summary>
/// Runs the real AppHost process with `publish --target kubernetes --output &lt;temp&gt;` (the same Program.cs, graph,
/// configuration and Aspire publish pipeline as `dotnet run --project Chat.AppHost -- publish …`), then reads every
/// written file back with the Kubernetes client's YAML loader.
/// </summary>
public sealed class PublishedManifests : IDisposable
{
    /// <summary>Publishing builds the model and writes files, no process is started; generous for a busy 2-core box.</summary>
    private static readonly TimeSpan s_publishTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Configuration a developer's shell might carry that would change the graph under test.</summary>
    private static readonly string[] s_inheritedSettings = ["ConnectionStrings__", "Publish__", "Replicas__", "Llm__", "Gateway__", "Redis__", "GEMINI_API_KEY", "replicas"];

    private PublishedManifests(string directory, IReadOnlyDictionary<string, string> files, IReadOnlyList<object> objects)
    {
        Directory = directory;
        Files = files;
        Objects = objects;
    }

    public string Directory { get; }

    /// <summary>File name → text, every file in the output folder.</summary>
    public IReadOnlyDictionary<string, string> Files { get; }

    /// <summary>Every object of every file listed in kustomization.yaml, typed (V1Deployment, V1Service…).</summary>
    public IReadOnlyList<object> Objects { get; }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();

    public V1Deployment Deployment(string name) => Single<V1Deployment>(name, d => d.Metadata.Name);

    public V1Service Service(string name) => Single<V1Service>(name, s => s.Metadata.Name);

    public V1ConfigMap ConfigMap(string name) => Single<V1ConfigMap>(name, c => c.Metadata.Name);

    /// <summary>The environment a container starts with: its ConfigMaps (envFrom) overlaid by its own env entries.</summary>
    public IReadOnlyDictionary<string, V1EnvVar> EnvironmentOf(V1Deployment deployment)
    {
        var container = deployment.Spec.Template.Spec.Containers.Single();
        var env = new Dictionary<string, V1EnvVar>(StringComparer.Ordinal);
        foreach (var source in container.EnvFrom ?? [])
        {
            if (source.ConfigMapRef is { } configMap)
            {
                foreach (var (key, value) in ConfigMap(configMap.Name).Data)
                {
                    env[key] = new V1EnvVar { Name = key, Value = value };
                }
            }
        }

        foreach (var variable in container.Env ?? [])
        {
            env[variable.Name] = variable;
        }

        return env;
    }

    public static async Task<PublishedManifests> PublishAsync(params string[] arguments)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("chat-k8s-").FullName;
        try
        {
            await RunAppHostAsync(["publish", "--target", "kubernetes", "--output", directory, .. arguments]);

            var kustomizationPath = Path.Combine(directory, "kustomization.yaml");
            Assert.True(File.Exists(kustomizationPath), $"The AppHost wrote no kustomization.yaml to {directory}.");
            var files = System.IO.Directory.EnumerateFiles(directory).ToDictionary(path => Path.GetFileName(path), File.ReadAllText);

            var listed = Kustomization.Resources(files["kustomization.yaml"]);
            var objects = new List<object>();
            foreach (var file in listed)
            {
                Assert.True(files.ContainsKey(file), $"kustomization.yaml lists {file}, which was not written.");
                objects.AddRange(KubernetesYaml.LoadAllFromString(files[file]));
            }

            return new PublishedManifests(directory, files, objects);
        }
        catch
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// `dotnet Chat.AppHost.dll &lt;args&gt;`, the AppHost the test project built, as `dotnet run --project Chat.AppHost`
    /// runs it; fails with its output unless it exits 0.
    /// </summary>
    public static async Task<string> RunAppHostAsync(string[] args, string? workingDirectory = null)
    {
        var (exitCode, output) = await RunAppHostProcessAsync(args, workingDirectory);
        Assert.True(exitCode == 0, $"The AppHost exited with {exitCode}:\n{output}");
        return output;
    }

    /// <summary>The AppHost's exit code and output; it is killed (and the test fails) if it has not exited within the timeout.</summary>
    public static async Task<(int ExitCode, string Output)> RunAppHostProcessAsync(string[] args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        start.ArgumentList.Add(typeof(Aspire.Hosting.ChatPublishingExtensions).Assembly.Location);
        foreach (var argument in args)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.Where(key => s_inheritedSettings.Any(prefix => key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))).ToList())
        {
            start.Environment.Remove(name);
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(s_publishTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"The AppHost did not finish within {s_publishTimeout.TotalSeconds} s:\n{Text()}");
        }

        // WaitForExitAsync returns once the redirected streams are drained too: the output is complete.
        return (process.ExitCode, Text());

        string Text()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private T Single<T>(string name, Func<T, string> nameOf)
    {
        var matches = Objects.OfType<T>().Where(o => nameOf(o) == name).ToList();
        Assert.True(matches.Count == 1, $"Expected one {typeof(T).Name} named '{name}', found {matches.Count}.");
        return matches[0];
    }

    /// <summary>kustomization.yaml has no model in the Kubernetes client: its `resources:` list, read with YamlDotNet.</summary>
    private static class Kustomization
    {
        public static IReadOnlyList<string> Resources(string yaml)
        {
            var document = new YamlDotNet.Serialization.DeserializerBuilder().Build().Deserialize<Dictionary<string, object>>(yaml);
            Assert.Equal("Kustomization", document["kind"]);
            return ((List<object>)document["resources"]).Cast<string>().ToList();
        }
    }
}

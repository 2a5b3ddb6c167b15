extern alias apphost;

using Chat.Tests.Infrastructure;
using k8s;
using k8s.Models;

namespace Chat.Tests.Kubernetes;

/// <summary>
/// Runs the AppHost's own entry point in-process with `publish --target kubernetes --output &lt;temp&gt;` (the same
/// Program.cs, graph and configuration as `dotnet run --project Chat.AppHost`), then reads every written file back
/// with the Kubernetes client's YAML loader.
/// </summary>
public sealed class PublishedManifests : IDisposable
{
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
        await RunAppHostAsync(["publish", "--target", "kubernetes", "--output", directory, .. arguments]).DefaultTimeout();

        var kustomizationPath = Path.Combine(directory, "kustomization.yaml");
        Assert.True(File.Exists(kustomizationPath), $"The AppHost wrote no kustomization.yaml to {directory} (see its log in the test output).");
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

    /// <summary>The AppHost's Main, as `dotnet Chat.AppHost.dll &lt;args&gt;` would run it.</summary>
    public static Task RunAppHostAsync(string[] args)
    {
        var entryPoint = typeof(apphost::Program).Assembly.EntryPoint!;
        return Task.Run(() => entryPoint.Invoke(null, [args]));
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

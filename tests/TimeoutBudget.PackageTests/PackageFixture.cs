using System.IO.Compression;

namespace TimeoutBudget.PackageTests;

/// <summary>
/// Packs TimeoutBudget once into a local folder feed and creates a fresh consumer project that references it by
/// version, exactly as a user would: no project references, its own package cache.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);

    public PackageFixture()
    {
        Root = Directory.CreateTempSubdirectory("timeoutbudget-e2e-").FullName;
        Feed = Path.Combine(Root, "feed");
        Version = $"0.1.0-e2e{DateTime.UtcNow:yyyyMMddHHmmss}{Random.Shared.Next(1000):000}";
        var (code, output) = DotNet.Run(DotNet.RepositoryRoot, Bound, "pack", "src/TimeoutBudget/TimeoutBudget.csproj", "-c", "Release",
            "-o", Feed, $"-p:PackageVersion={Version}", "-p:ContinuousIntegrationBuild=true");
        PackOutput = output;
        if (code != 0)
        {
            throw new InvalidOperationException($"dotnet pack failed:\n{output}");
        }

        Package = Path.Combine(Feed, $"TimeoutBudget.{Version}.nupkg");
        Consumer = CreateConsumer("consumer");
    }

    public string Root { get; }

    public string Feed { get; }

    public string Version { get; }

    public string Package { get; }

    public string PackOutput { get; }

    public string Consumer { get; }

    public IReadOnlyList<string> PackageEntries()
    {
        using var zip = ZipFile.OpenRead(Package);
        return zip.Entries.Select(e => e.FullName).ToList();
    }

    public string ReadPackageEntry(string name)
    {
        using var zip = ZipFile.OpenRead(Package);
        using var reader = new StreamReader(zip.Entries.Single(e => e.FullName == name).Open());
        return reader.ReadToEnd();
    }

    /// <summary>A new consumer project directory, with its own copy of the sources.</summary>
    public string CreateConsumer(string name)
    {
        var directory = Path.Combine(Root, name);
        Directory.CreateDirectory(directory);
        var globalPackages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local-feed" value="{Feed}" />
                {(Directory.Exists(globalPackages) ? $"<add key=\"machine-cache\" value=\"{globalPackages}\" />" : string.Empty)}
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(directory, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(directory, "Directory.Packages.props"), "<Project />");
        File.WriteAllText(Path.Combine(directory, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <RestorePackagesPath>{Path.Combine(Root, "packages")}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="TimeoutBudget" Version="{Version}" />
              </ItemGroup>
            </Project>
            """);
        foreach (var source in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Consumer")))
        {
            File.Copy(source, Path.Combine(directory, Path.GetFileName(source).Replace(".txt", string.Empty, StringComparison.Ordinal)), overwrite: true);
        }

        return directory;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A build server may still hold a file; the temp folder is cleaned by the OS.
        }
    }
}

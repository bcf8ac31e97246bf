using System.IO.Compression;

namespace TimeoutBudget.PackageTests;

/// <summary>
/// Packs every package once into a local folder feed, with the command README.md gives, and creates fresh consumer
/// projects that reference them by version, exactly as a user would: no project references, their own package cache.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);

    /// <summary>The pack command README.md gives contributors, without its output folder.</summary>
    public static readonly string[] PackCommand = ["pack", "TimeoutBudget.sln", "-c", "Release"];

    /// <summary>Every package this repository produces: the library, its integrations and the command-line tool.</summary>
    public static readonly string[] PackageIds =
        ["TimeoutBudget", "TimeoutBudget.Polly", "TimeoutBudget.Aws", "TimeoutBudget.Http", "TimeoutBudget.Grpc", "TimeoutBudget.Hosting", "TimeoutBudget.Cli"];

    public PackageFixture()
    {
        Root = Directory.CreateTempSubdirectory("timeoutbudget-e2e-").FullName;
        Feed = Path.Combine(Root, "feed");
        Version = $"0.1.0-e2e{DateTime.UtcNow:yyyyMMddHHmmss}{Random.Shared.Next(1000):000}";
        // README's one command for contributors, "dotnet pack TimeoutBudget.sln -c Release -o artifacts", into a feed of our
        // own and with a version no earlier run used, so that no cached copy of a package can stand in for this one.
        var (code, output) = DotNet.Run(DotNet.RepositoryRoot, Bound, PackCommand.Concat(["-o", Feed, $"-p:PackageVersion={Version}"]).ToArray());
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

    public byte[] ReadPackageBytes(string name)
    {
        using var zip = ZipFile.OpenRead(Package);
        using var entry = zip.Entries.Single(e => e.FullName == name).Open();
        using var bytes = new MemoryStream();
        entry.CopyTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>A new consumer project directory, with its own copy of the sources.</summary>
    public string CreateConsumer(string name)
    {
        var directory = CreateProjectDirectory(name, "Consumer.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <RestorePackagesPath>{PackagesPath}</RestorePackagesPath>
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

    /// <summary>Where every consumer restores to: its own package cache, so no earlier build's copy of a package leaks in.</summary>
    public string PackagesPath => Path.Combine(Root, "packages");

    /// <summary>
    /// A new project directory that restores from the local feed first, isolated from this repository's
    /// Directory.Build.props and central package versions, with the given project file.
    /// </summary>
    public string CreateProjectDirectory(string name, string projectFileName, string projectXml)
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
        File.WriteAllText(Path.Combine(directory, projectFileName), projectXml);
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

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace TimeoutBudget.PackageTests;

/// <summary>
/// Every C# block of README.md and docs/ compiled in one project against the packed packages, with the analyzer on and
/// warnings as errors, each block in a file of its own so that every diagnostic can be traced to its block. One build for
/// all of them keeps the default test run short; the SARIF log says which file each diagnostic came from.
/// </summary>
public sealed partial class SnippetBuild
{
    /// <summary>The file that proves CA2016 is on (see DocSnippets/Ca2016Control.cs).</summary>
    public const string Ca2016ControlFile = "Ca2016Control.cs";

    /// <summary>Third-party packages the documented code uses, at the versions this repository pins centrally.</summary>
    public static readonly string[] ThirdPartyPackages = ["AWSSDK.SQS", "Grpc.Net.Client", "Polly", "Polly.Extensions.Http", "Microsoft.Extensions.Http.Polly"];

    private static readonly object Gate = new();

    // Lazy keeps a failed build's exception too, so every test that reads the build reports it without building again.
    private static Lazy<SnippetBuild>? _build;

    private SnippetBuild(IReadOnlyList<DocSnippet> snippets, IReadOnlyList<SnippetDiagnostic> diagnostics, string output)
    {
        Snippets = snippets;
        Diagnostics = diagnostics;
        Output = output;
    }

    public IReadOnlyList<DocSnippet> Snippets { get; }

    /// <summary>Every diagnostic the compiler logged, analyzer and compiler alike, hidden ones aside.</summary>
    public IReadOnlyList<SnippetDiagnostic> Diagnostics { get; }

    /// <summary>The build's console output, for failure messages.</summary>
    public string Output { get; }

    /// <summary>The diagnostics reported in one snippet's file.</summary>
    public IReadOnlyList<SnippetDiagnostic> For(DocSnippet snippet) =>
        Diagnostics.Where(d => d.File == FileName(snippet)).ToList();

    public static string FileName(DocSnippet snippet) => snippet.Name + ".cs";

    /// <summary>Builds once per test run (the tests that read it share the package fixture's collection, so they run one at a time).</summary>
    public static SnippetBuild Get(PackageFixture fixture)
    {
        lock (Gate)
        {
            _build ??= new Lazy<SnippetBuild>(() => Build(fixture, DocSnippet.ReadAll(DotNet.RepositoryRoot)));
        }

        return _build.Value;
    }

    private static SnippetBuild Build(PackageFixture fixture, IReadOnlyList<DocSnippet> snippets)
    {
        var versions = CentralVersions();
        var references = new StringBuilder();
        foreach (var package in PackageFixture.PackageIds.Where(id => id != "TimeoutBudget.Cli"))
        {
            references.AppendLine($"""    <PackageReference Include="{package}" Version="{fixture.Version}" />""");
        }

        foreach (var package in ThirdPartyPackages)
        {
            references.AppendLine($"""    <PackageReference Include="{package}" Version="{versions[package]}" />""");
        }

        // The Web SDK, as the services these snippets come from use; its implicit usings are the only ones a block may assume.
        var directory = fixture.CreateProjectDirectory("doc-snippets", "DocSnippets.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <OutputType>Library</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <ErrorLog>$(MSBuildProjectDirectory)/snippets.sarif,version=2.1</ErrorLog>
                <RestorePackagesPath>{fixture.PackagesPath}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
            {references}  </ItemGroup>
            </Project>
            """);

        // TB0003 (a suggestion by default) is raised to a warning, so a documented "good" example has a real margin too;
        // CA2016 likewise, so no example teaches a call that the platform's own cancellation analyzer would flag.
        File.WriteAllText(Path.Combine(directory, ".editorconfig"), """
            root = true

            [*.cs]
            dotnet_diagnostic.TB0003.severity = warning
            dotnet_diagnostic.CA2016.severity = warning
            """);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "DocSnippets")))
        {
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        }

        foreach (var snippet in snippets)
        {
            File.WriteAllText(Path.Combine(directory, FileName(snippet)), Wrap(snippet));
        }

        var (_, output) = DotNet.Run(directory, PackageFixture.Bound, "build", "-c", "Release");
        var sarif = Path.Combine(directory, "snippets.sarif");
        if (!File.Exists(sarif))
        {
            throw new InvalidOperationException($"The snippets were not compiled (no SARIF log was written):\n{output}");
        }

        return new SnippetBuild(snippets, ReadSarif(sarif), output);
    }

    /// <summary>
    /// A block as the body of a method of its own type: its <c>using</c> directives go to the top of the file, its
    /// <c>given</c> names become the method's parameters, and the method is async so that any block may await (its
    /// closing <c>await Task.CompletedTask</c> keeps the compiler quiet for blocks that do not).
    /// </summary>
    public static string Wrap(DocSnippet snippet)
    {
        var lines = snippet.Code.Split('\n');
        var usings = lines.TakeWhile(l => UsingDirective().IsMatch(l) || l.Trim().Length == 0).ToList();
        var body = lines.Skip(usings.Count);
        return $$"""
            {{string.Join('\n', usings.Where(u => u.Trim().Length > 0))}}

            namespace DocSnippets;

            // {{snippet.Document}}, the block opening at line {{snippet.Line}}.
            internal static class {{snippet.Name}}
            {
                public static async Task Run({{snippet.Given}})
                {
            {{string.Join('\n', body.Select(l => "        " + l))}}
                    await Task.CompletedTask;
                }
            }

            """;
    }

    private static Dictionary<string, string> CentralVersions() =>
        XDocument.Load(Path.Combine(DotNet.RepositoryRoot, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);

    private static List<SnippetDiagnostic> ReadSarif(string path)
    {
        using var log = JsonDocument.Parse(File.ReadAllText(path));
        var diagnostics = new List<SnippetDiagnostic>();
        foreach (var result in log.RootElement.GetProperty("runs").EnumerateArray().SelectMany(r => r.GetProperty("results").EnumerateArray()))
        {
            string? file = null;
            var line = 0;
            if (result.TryGetProperty("locations", out var locations) && locations.GetArrayLength() > 0)
            {
                var physical = locations[0].GetProperty("physicalLocation");
                file = Path.GetFileName(new Uri(physical.GetProperty("artifactLocation").GetProperty("uri").GetString()!).LocalPath);
                line = physical.GetProperty("region").GetProperty("startLine").GetInt32();
            }

            var level = result.TryGetProperty("level", out var l) ? l.GetString()! : "warning";
            var message = result.GetProperty("message").GetProperty("text").GetString() ?? string.Empty;
            diagnostics.Add(new SnippetDiagnostic(result.GetProperty("ruleId").GetString()!, level, file, line, message));
        }

        return diagnostics;
    }

    [GeneratedRegex(@"^\s*using\s+(static\s+)?[A-Za-z_][\w.]*(\s*=\s*[\w.<>]+)?\s*;\s*$")]
    private static partial Regex UsingDirective();
}

/// <summary>One result of the snippets' SARIF log.</summary>
public sealed record SnippetDiagnostic(string Id, string Level, string? File, int Line, string Message)
{
    public override string ToString() => $"{File}({Line}): {Level} {Id}: {Message}";
}

namespace TimeoutBudget.PackageTests;

/// <summary>
/// The package hands a service's appsettings files to the analyzer (its build/TimeoutBudget.targets), so a timeout kept in
/// configuration is checked on every build (TB0008), and a project can opt out with one property.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class ConfigurationFilesEndToEndTests(PackageFixture fixture)
{
    private const string Client = """
        using Microsoft.Extensions.Options;

        namespace Consumer;

        public sealed class ReportsOptions
        {
            public int TimeoutSeconds { get; set; } = 10;
        }

        public static class ReportsRegistration
        {
            public static IServiceCollection AddReports(this IServiceCollection services, IConfiguration configuration) =>
                services.Configure<ReportsOptions>(configuration.GetSection("Reports"));
        }

        // Seed 3's shape: the client's timeout comes from configuration, the workflow's deadline from code.
        public sealed class ReportsClient(HttpClient http, IOptions<ReportsOptions> options)
        {
            public async Task<string> FetchAsync(string url)
            {
                http.Timeout = TimeSpan.FromSeconds(options.Value.TimeoutSeconds);
                using var workflow = new CancellationTokenSource(TimeSpan.FromSeconds(40));
                return await http.GetStringAsync(url, workflow.Token);
            }
        }
        """;

    [Fact]
    public void A_timeout_in_appsettings_is_checked_on_build()
    {
        var (code, output) = DotNet.Run(CreateWebConsumer("consumer-appsettings"), PackageFixture.Bound, "build", "--no-incremental");
        Assert.True(code == 0, output);
        var line = Assert.Single(output.Split('\n').Where(l => l.Contains("warning TB0008", StringComparison.Ordinal)).Distinct());
        Assert.Contains("ReportsClient.cs(", line, StringComparison.Ordinal);
        Assert.Contains("configuration key 'Reports:TimeoutSeconds' = \\\"120\\\"", line.Replace("\"", "\\\"", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("appsettings.Production.json:1", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_project_can_opt_out_of_reading_configuration()
    {
        var (code, output) = DotNet.Run(CreateWebConsumer("consumer-appsettings-opt-out"), PackageFixture.Bound, "build", "--no-incremental",
            "-p:TimeoutBudgetReadConfiguration=false");
        Assert.True(code == 0, output);
        Assert.DoesNotContain("TB0008", output, StringComparison.Ordinal);
    }

    private string CreateWebConsumer(string name)
    {
        var directory = fixture.CreateConsumer(name);
        var project = Path.Combine(directory, "Consumer.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("Sdk=\"Microsoft.NET.Sdk\"", "Sdk=\"Microsoft.NET.Sdk.Web\"", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(directory, "ReportsClient.cs"), Client);
        File.WriteAllText(Path.Combine(directory, "appsettings.json"), """{ "Reports": { "TimeoutSeconds": 20 } }""");
        File.WriteAllText(Path.Combine(directory, "appsettings.Production.json"), """{ "Reports": { "TimeoutSeconds": 120 } }""");
        return directory;
    }
}

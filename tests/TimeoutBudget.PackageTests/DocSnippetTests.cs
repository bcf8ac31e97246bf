namespace TimeoutBudget.PackageTests;

/// <summary>
/// The documentation is code that compiles: every C# block of README.md and docs/, built against the packed packages with
/// the analyzer on and warnings as errors. A rule page's "bad" example produces exactly its rule; everything else, no
/// diagnostic at all.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class DocSnippetTests(PackageFixture fixture)
{
    public static TheoryData<string> Snippets() => new(DocSnippet.ReadAll(DotNet.RepositoryRoot).Select(s => s.ToString()));

    [Fact]
    public void Every_csharp_block_is_compiled_and_only_rule_pages_have_bad_examples_of_their_own_rule()
    {
        var snippets = DocSnippet.ReadAll(DotNet.RepositoryRoot);
        Assert.Contains(snippets, s => s.Document == "README.md");
        Assert.All(snippets.Where(s => s.Reports is not null), s => Assert.Equal(s.PageRule, s.Reports));
        Assert.Equal(snippets.Count, snippets.Select(s => s.Name).Distinct().Count());
    }

    [Fact]
    public void A_csharp_block_without_its_snippet_comment_is_refused()
    {
        string[] page = ["Some text", "```csharp", "var x = 1;", "```"];
        var exception = Assert.Throws<FormatException>(() => DocSnippet.Read("docs/page.md", page).ToList());
        Assert.StartsWith("docs/page.md:2:", exception.Message, StringComparison.Ordinal);

        string[] marked = ["<!-- snippet | given: int y | reports: TB0001 -->", "```csharp", "using System;", "var x = y;", "```"];
        var snippet = Assert.Single(DocSnippet.Read("docs/rules/TB0001.md", marked));
        Assert.Equal(("int y", "TB0001", 2, "using System;\nvar x = y;"), (snippet.Given, snippet.Reports, snippet.Line, snippet.Code));
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Documented_code_compiles_with_exactly_the_diagnostics_it_claims(string snippet)
    {
        var build = SnippetBuild.Get(fixture);
        var block = build.Snippets.Single(s => s.ToString() == snippet);
        var diagnostics = build.For(block);
        var listing = $"{block}:\n{SnippetBuild.Wrap(block)}\n{string.Join('\n', diagnostics)}";
        if (block.Reports is null)
        {
            Assert.True(diagnostics.Count == 0, $"Expected no diagnostic in {listing}");
        }
        else
        {
            Assert.True(diagnostics.Count > 0 && diagnostics.All(d => d.Id == block.Reports), $"Expected only {block.Reports} in {listing}");
        }
    }

    [Fact]
    public void The_snippet_build_has_no_diagnostic_outside_the_snippets()
    {
        var build = SnippetBuild.Get(fixture);
        var files = build.Snippets.Select(SnippetBuild.FileName).ToHashSet();
        var elsewhere = build.Diagnostics.Where(d => (d.File is null || !files.Contains(d.File)) && d.File != SnippetBuild.Ca2016ControlFile).ToList();
        Assert.True(elsewhere.Count == 0, string.Join('\n', elsewhere) + "\n" + build.Output);
        Assert.Contains(build.Diagnostics, d => d.Id.StartsWith("TB", StringComparison.Ordinal));
    }

    [Fact]
    public void CA2016_is_on_and_a_detached_child_in_a_method_with_a_token_does_not_ask_for_it_again()
    {
        var build = SnippetBuild.Get(fixture);
        var reports = build.Diagnostics.Where(d => d.Id == "CA2016").ToList();
        Assert.True(reports.Count == 1 && reports[0].File == SnippetBuild.Ca2016ControlFile, string.Join('\n', reports));

        // The README's detached child runs in a method that has the caller's token, so CA2016 would speak up if it could.
        var detached = Assert.Single(build.Snippets, s => s.Code.Contains(".DetachedChild(", StringComparison.Ordinal));
        Assert.Contains("CancellationToken", detached.Given, StringComparison.Ordinal);
        Assert.Empty(build.For(detached));
    }
}

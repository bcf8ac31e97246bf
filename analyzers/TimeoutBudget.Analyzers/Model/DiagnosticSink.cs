using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>Reports each rule at most once per location: one inner timeout may be compared with several outer ones.</summary>
internal sealed class DiagnosticSink
{
    private readonly SymbolAnalysisContext _context;
    private readonly ImmutableArray<DiagnosticDescriptor> _supported;
    private readonly GeneratedCode _generated;
    private readonly HashSet<(string Id, SyntaxTree? Tree, int Start)> _reported = new();

    public DiagnosticSink(SymbolAnalysisContext context, ImmutableArray<DiagnosticDescriptor> supported, GeneratedCode generated)
    {
        _context = context;
        _supported = supported;
        _generated = generated;
    }

    public AnalyzerOptions Options => _context.Options;

    public void Report(DiagnosticDescriptor descriptor, IOperation at, string message, IOperation? related = null, ImmutableDictionary<string, string?>? properties = null) =>
        Report(descriptor, at.Syntax.GetLocation(), message, related?.Syntax.GetLocation(), properties);

    public void Report(DiagnosticDescriptor descriptor, Location location, string message, Location? related = null, ImmutableDictionary<string, string?>? properties = null) =>
        ReportWithLocations(descriptor, location, message, related is null ? Array.Empty<Location>() : new[] { related }, properties);

    /// <summary>
    /// TB0001/TB0002 comparing <paramref name="values"/>: when one of them was read from a configuration file the finding is
    /// TB0008 instead (tuned apart in .editorconfig), with the place in the file as one more location.
    /// </summary>
    public void ReportComparison(DiagnosticDescriptor descriptor, Location location, string message, IEnumerable<Location> related, ImmutableDictionary<string, string?>? properties, params Duration[] values)
    {
        var locations = new List<Location>(related);
        var configured = false;
        foreach (var value in values)
        {
            if (value.Configured is { } read)
            {
                locations.Add(read.Location);
                configured = true;
            }
        }

        if (configured && (descriptor == Descriptors.InnerTimeoutNotShorter || descriptor == Descriptors.RetryScheduleDoesNotFit))
        {
            ReportWithLocations(Descriptors.ConfiguredTimeoutsMisaligned, location, message, locations, properties?.Remove(Margins.InnerIsAdditionalProperty));
            return;
        }

        ReportWithLocations(descriptor, location, message, locations, properties);
    }

    public void ReportWithLocations(DiagnosticDescriptor descriptor, Location location, string message, IReadOnlyList<Location> related, ImmutableDictionary<string, string?>? properties = null)
    {
        // An analyzer for some rules only runs the shared passes that also find others; the driver rejects what it does not declare.
        if (!location.IsInSource || !_supported.Contains(descriptor) || _generated.IsGenerated(location.SourceTree)
            || !_reported.Add((descriptor.Id, location.SourceTree, location.SourceSpan.Start)))
        {
            return;
        }

        // A location in another compilation's tree (a value in a file the analyzer was not handed) cannot be reported; a place in
        // a configuration file can.
        var additional = new List<Location>(related.Count);
        foreach (var place in related)
        {
            if (place.IsInSource || place.Kind == LocationKind.ExternalFile)
            {
                additional.Add(place);
            }
        }

        _context.ReportDiagnostic(Diagnostic.Create(descriptor, location, additional, properties, message));
    }
}

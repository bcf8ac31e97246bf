using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>
/// TB0001–TB0006 from one timeout model: each type's members are collected once (every timeout written, every token source,
/// every call and wait), values are read across files through one per-compilation reader, and every rule reads that model
/// when the type's members have all been seen. Types are the unit because "a client configured in the constructor and used
/// in a method" is the common shape, and a type's end action runs after all of its members, so findings appear live in the
/// IDE without full-solution analysis.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public class TimeoutAnalyzer : DiagnosticAnalyzer
{
    /// <summary>How <c>PassTimeoutTokenCodeFix</c> can pass a token to the call a finding is on.</summary>
    public const string TokenFixProperty = "TokenFix";

    private static readonly ImmutableArray<DiagnosticDescriptor> AllRules = ImmutableArray.Create(
        Descriptors.InnerTimeoutNotShorter, Descriptors.RetryScheduleDoesNotFit, Descriptors.MarginTooSmall,
        Descriptors.TimedWaitAbandonsWork, Descriptors.OperationWithoutDeadline, Descriptors.BudgetMisuse, Descriptors.ConfiguredTimeoutsMisaligned);

    public TimeoutAnalyzer()
        : this(AllRules)
    {
    }

    /// <summary>An analyzer for some of the rules only (tests and tools that look at one rule at a time).</summary>
    protected TimeoutAnalyzer(params string[] ruleIds)
        : this(AllRules.Where(d => ruleIds.Contains(d.Id)).ToImmutableArray())
    {
    }

    private TimeoutAnalyzer(ImmutableArray<DiagnosticDescriptor> rules) => SupportedDiagnostics = rules;

    public sealed override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; }

    public sealed override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        // Generated code is skipped here (GeneratedCode), not by the driver: for every diagnostic of an analyzer that asks it to,
        // the driver walks the diagnostic's whole file for [GeneratedCode] declarations.
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.Analyze | GeneratedCodeAnalysisFlags.ReportDiagnostics);
        context.RegisterCompilationStartAction(start =>
        {
            var facts = CompilationFacts.For(start.Compilation, start.Options, start.CancellationToken);
            var rules = Rules(facts.Types);
            if (!facts.Types.AnyTimeoutSource || rules.Count == 0)
            {
                return;
            }

            var texts = new FileTexts(start.Compilation.SyntaxTrees.Count());
            start.RegisterSymbolStartAction(
                symbolStart =>
                {
                    // A type whose text names nothing a rule can start from is not collected at all: without operation actions
                    // for its members the driver does not even build their operation trees.
                    var type = (INamedTypeSymbol)symbolStart.Symbol;
                    if (MentionsATimeout(type, texts, symbolStart.CancellationToken) && !facts.GeneratedCode.IsGeneratedType(type))
                    {
                        Collect(symbolStart, new TypeTimeoutModel(type, facts.Types, facts.Evaluator, facts.CallRoles, facts.RequestTimeouts, facts.NamedClients), facts.GeneratedCode, rules);
                    }
                },
                SymbolKind.NamedType);
        });
    }

    /// <summary>
    /// The words every finding starts from: a timeout or deadline written in the type (<c>Timeout</c>, <c>TimeSpan</c>,
    /// <c>CancelAfter</c>, a token source, <c>Deadline</c>), a timed wait (<c>Wait…</c>, <c>WhenAny</c>, <c>Delay</c>), a
    /// retry or policy, the resilience handlers, or a budget. Ordinal and case-sensitive, as code is written.
    /// </summary>
    private static readonly string[] TimeoutWords =
    {
        "Timeout", "TimeSpan", "CancelAfter", "CancellationTokenSource", "eadline", "Wait", "WhenAny", "Delay",
        "Retry", "Policy", "Execute", "Resilience", "Hedging", "Budget",
    };

    private static bool MentionsATimeout(ISymbol type, FileTexts texts, CancellationToken cancellationToken)
    {
        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            var text = texts.Of(reference.SyntaxTree, cancellationToken);
            var span = reference.Span;
            foreach (var word in TimeoutWords)
            {
                if (text.IndexOf(word, span.Start, span.Length, StringComparison.Ordinal) >= 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The rules this analyzer runs that have anything to look for in a compilation with these types.</summary>
    private List<Action<TypeTimeoutModel, DiagnosticSink>> Rules(KnownTypes types)
    {
        bool Runs(params DiagnosticDescriptor[] descriptors) => descriptors.Any(SupportedDiagnostics.Contains);
        var rules = new List<Action<TypeTimeoutModel, DiagnosticSink>>();
        if (Runs(Descriptors.InnerTimeoutNotShorter, Descriptors.RetryScheduleDoesNotFit, Descriptors.MarginTooSmall, Descriptors.ConfiguredTimeoutsMisaligned))
        {
            rules.Add(NestedTimeoutRule.Report);
        }

        if (Runs(Descriptors.TimedWaitAbandonsWork) && types.Task is not null)
        {
            rules.Add(AbandonedWorkRule.Report);
        }

        if (Runs(Descriptors.OperationWithoutDeadline) && (types.HttpClient is not null || types.Process is not null || types.AwsClientConfig is not null))
        {
            rules.Add(UnboundedOperationRule.Report);
        }

        if (Runs(Descriptors.BudgetMisuse) && types.Budget is not null)
        {
            rules.Add(BudgetMisuseRule.Report);
        }

        return rules;
    }

    private void Collect(SymbolStartAnalysisContext context, TypeTimeoutModel model, GeneratedCode generated, List<Action<TypeTimeoutModel, DiagnosticSink>> rules)
    {
        void Record<TOperation>(OperationAnalysisContext operation, Action<TOperation, TypeTimeoutModel> record)
            where TOperation : IOperation
        {
            if (!generated.IsGenerated(operation.Operation, operation.ContainingSymbol))
            {
                record((TOperation)operation.Operation, model);
            }
        }

        context.RegisterOperationAction(operation => Record<IAssignmentOperation>(operation, RecordAssignment), OperationKind.SimpleAssignment, OperationKind.CompoundAssignment);
        context.RegisterOperationAction(operation => Record<ICoalesceAssignmentOperation>(operation, RecordLazyStore), OperationKind.CoalesceAssignment);
        context.RegisterOperationAction(operation => Record<IObjectCreationOperation>(operation, RecordCreation), OperationKind.ObjectCreation);
        context.RegisterOperationAction(operation => Record<ISymbolInitializerOperation>(operation, RecordInitializer), OperationKind.FieldInitializer, OperationKind.PropertyInitializer);
        context.RegisterOperationAction(operation => Record<IInvocationOperation>(operation, RecordInvocation), OperationKind.Invocation);
        context.RegisterSymbolEndAction(end =>
        {
            model.Freeze();
            var sink = new DiagnosticSink(end, SupportedDiagnostics, generated);
            foreach (var rule in rules)
            {
                rule(model, sink);
            }
        });
    }

    /// <summary><c>_reportTask ??= Task.Run(…)</c>: the task a field holds once it is started.</summary>
    private static void RecordLazyStore(ICoalesceAssignmentOperation store, TypeTimeoutModel model)
    {
        if (Roots.Of(store.Target) is ISymbol holder and (IFieldSymbol or IPropertySymbol))
        {
            model.AddStoredValue(holder, DurationEvaluator.SkipConversions(store.Value));
        }
    }

    private static void RecordAssignment(IAssignmentOperation assignment, TypeTimeoutModel model)
    {
        var target = DurationEvaluator.SkipConversions(assignment.Target);
        if (assignment is ISimpleAssignmentOperation && target is ILocalReferenceOperation or IFieldReferenceOperation or IPropertyReferenceOperation or IParameterReferenceOperation
            && Roots.Of(target) is ISymbol holder)
        {
            var value = DurationEvaluator.SkipConversions(assignment.Value);
            if (holder is IFieldSymbol or IPropertySymbol)
            {
                model.AddStoredValue(holder, value);
            }

            if (value is not IObjectCreationOperation and not IInvocationOperation)
            {
                model.AddAlias(holder, Roots.Of(value));
            }

            // A holder is also a member of whatever holds it (this._client, options.Retry…): fall through to record the write.
        }

        if (!Roots.TryGetMemberPath(target, out var root, out var path))
        {
            return;
        }

        var written = assignment is ISimpleAssignmentOperation simple
            ? new WrittenValue(() => model.Evaluator.EvaluateWritten(simple.Value, target.Type), assignment.Value)
            : new WrittenValue((object?)null, assignment.Value);
        model.AddValue(root, path, written);
    }

    /// <summary>A timeout argument evaluated when a rule asks for it: most are never compared, and evaluating one can mean reading other files.</summary>
    private static WrittenValue Later(TypeTimeoutModel model, IArgumentOperation timeout) =>
        new(() => model.Evaluator.EvaluateArgument(timeout), timeout.Value);

    private static void RecordInitializer(ISymbolInitializerOperation initializer, TypeTimeoutModel model)
    {
        ISymbol? holder = initializer switch
        {
            IFieldInitializerOperation { InitializedFields.Length: 1 } field => field.InitializedFields[0],
            IPropertyInitializerOperation { InitializedProperties.Length: 1 } property => property.InitializedProperties[0],
            _ => null,
        };
        if (holder is not null)
        {
            model.AddStoredValue(holder, DurationEvaluator.SkipConversions(initializer.Value));
        }
    }

    private static void RecordCreation(IObjectCreationOperation creation, TypeTimeoutModel model)
    {
        var types = model.Types;
        if (KnownTypes.IsOrDerivesFrom(creation.Type, types.CancellationTokenSource))
        {
            var root = Roots.OfCreation(creation);
            var timeout = creation.Arguments.FirstOrDefault(a => a.Parameter is { } p && (types.IsTimeSpan(p.Type) || p.Type.SpecialType == SpecialType.System_Int32));
            if (timeout is not null)
            {
                model.AddValue(root, TypeTimeoutModel.TimeoutSlot, Later(model, timeout));
            }

            return;
        }

        foreach (var argument in creation.Arguments)
        {
            if (KnownTypes.IsOrDerivesFrom(argument.Value.Type, types.AwsClientConfig) || KnownTypes.IsOrDerivesFrom(DurationEvaluator.SkipConversions(argument.Value).Type, types.AwsClientConfig))
            {
                var config = Roots.Of(argument.Value);
                if (config is not null)
                {
                    model.SetClientConfig(Roots.OfCreation(creation), config);
                }
            }
        }
    }

    private static void RecordInvocation(IInvocationOperation invocation, TypeTimeoutModel model)
    {
        model.AddInvocation(invocation);
        var types = model.Types;
        var method = invocation.TargetMethod;
        var owner = method.ContainingType;
        // The name first: every call in the type comes here, and walking a receiver's base types costs more than comparing a name.
        if (method.Name is "Cancel" or "CancelAsync" or "CancelAfter" or "CreateLinkedTokenSource" && KnownTypes.IsOrDerivesFrom(owner, types.CancellationTokenSource))
        {
            if (method.Name is "Cancel" or "CancelAsync" && Roots.Of(invocation.Instance) is { } cancelled)
            {
                model.MarkCancelled(cancelled);
            }
            else if (method.Name == "CancelAfter" && invocation.Arguments.Length == 1 && Roots.Of(invocation.Instance) is { } source)
            {
                model.AddValue(source, TypeTimeoutModel.TimeoutSlot, Later(model, invocation.Arguments[0]));
            }
            else if (method.Name == "CreateLinkedTokenSource")
            {
                var child = Roots.OfCreation(invocation);
                foreach (var parent in ArgumentValues.Of(invocation))
                {
                    if (Tokens.ClassifyValue(parent, types, out var parentSource) == TokenKind.FromSource && parentSource is not null)
                    {
                        model.AddLinkedParent(child, parentSource);
                    }
                }
            }

            return;
        }

        if (types.Budget is not null && SymbolEqualityComparer.Default.Equals(owner, types.Budget) && method.Name is "Start" or "Enter" or "Child")
        {
            var timeout = invocation.Arguments.FirstOrDefault(a => a.Parameter?.Name == "timeout");
            var budget = Roots.OfCreation(invocation);
            if (timeout is not null)
            {
                model.AddValue(budget, TypeTimeoutModel.TimeoutSlot, Later(model, timeout));
            }

            if (method.Name == "Child" && Roots.Of(invocation.Instance) is { } parent)
            {
                model.AddLinkedParent(budget, parent);
            }
        }
    }
}

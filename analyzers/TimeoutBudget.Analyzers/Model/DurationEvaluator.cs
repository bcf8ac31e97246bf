using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Folds the constant durations that code writes: <c>TimeSpan.From*</c> (every overload, including the .NET 9 multi-argument
/// ones), <c>new TimeSpan(…)</c>, integer millisecond arguments, const fields, static readonly fields and locals with a single
/// constant assignment, and + − × ÷. Anything else (configuration, parameters) is unknown and never guessed.
/// </summary>
internal sealed class DurationEvaluator
{
    private const int MaxDepth = 16;
    private const long TicksPerMicrosecond = 10;

    private static readonly Dictionary<string, long[]> FactoryUnits = new(StringComparer.Ordinal)
    {
        ["FromDays"] = new[] { TimeSpan.TicksPerDay, TimeSpan.TicksPerHour, TimeSpan.TicksPerMinute, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMillisecond, TicksPerMicrosecond },
        ["FromHours"] = new[] { TimeSpan.TicksPerHour, TimeSpan.TicksPerMinute, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMillisecond, TicksPerMicrosecond },
        ["FromMinutes"] = new[] { TimeSpan.TicksPerMinute, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMillisecond, TicksPerMicrosecond },
        ["FromSeconds"] = new[] { TimeSpan.TicksPerSecond, TimeSpan.TicksPerMillisecond, TicksPerMicrosecond },
        ["FromMilliseconds"] = new[] { TimeSpan.TicksPerMillisecond, TicksPerMicrosecond },
        ["FromMicroseconds"] = new[] { TicksPerMicrosecond },
        ["FromTicks"] = new[] { 1L },
    };

    private readonly KnownTypes _types;
    private readonly Declarations? _declarations;
    private readonly ConfigurationReads? _configuration;
    private readonly IParameterSymbol? _boundParameter;
    private readonly double _boundValue;

    public DurationEvaluator(KnownTypes types, Declarations? declarations = null, ConfigurationReads? configuration = null)
    {
        _types = types;
        _declarations = declarations;
        _configuration = configuration;
    }

    private DurationEvaluator(DurationEvaluator evaluator, IParameterSymbol parameter, double value)
        : this(evaluator._types, evaluator._declarations, evaluator._configuration)
    {
        _boundParameter = parameter;
        _boundValue = value;
    }

    /// <summary>An evaluator that reads <paramref name="parameter"/> as <paramref name="value"/>: a sleep-duration function's attempt number.</summary>
    public DurationEvaluator With(IParameterSymbol parameter, double value) => new(this, parameter, value);

    public Declarations? Declarations => _declarations;

    /// <summary>The project's configuration files and reads, when it has any.</summary>
    public ConfigurationReads? Configuration => _configuration;

    /// <summary>A configuration file's text as a value of <paramref name="type"/>, as the binder converts it.</summary>
    public static object? Convert(ConfiguredValue value, ITypeSymbol? type, IOperation source, KnownTypes types)
    {
        if (types.IsTimeSpan(type))
        {
            return ParseTimeSpan(value) is { } ticks && ticks >= System.Threading.Timeout.InfiniteTimeSpan.Ticks && ticks <= DurationText.MaxValue.Ticks
                ? new Duration(TimeSpan.FromTicks((long)ticks), source, isMilliseconds: false, value)
                : null;
        }

        if (type?.TypeKind == TypeKind.Enum)
        {
            return type.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && string.Equals(f.Name, value.Text, StringComparison.OrdinalIgnoreCase))?.Name;
        }

        return type?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Double ? ParseNumber(value) : null;
    }

    /// <summary>Evaluates a duration argument: a <see cref="TimeSpan"/>, or an integer count of milliseconds.</summary>
    public Duration? EvaluateArgument(IArgumentOperation? argument) =>
        argument is null || argument.ArgumentKind != ArgumentKind.Explicit ? null : EvaluateDurationOrMilliseconds(argument.Value);

    public Duration? EvaluateDurationOrMilliseconds(IOperation? operation)
    {
        if (operation is null)
        {
            return null;
        }

        var unwrapped = SkipConversions(operation);
        if (_types.IsTimeSpan(unwrapped.Type))
        {
            return EvaluateTimeSpan(operation);
        }

        if (unwrapped.Type?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_UInt32)
        {
            var trace = new Trace();
            var milliseconds = EvaluateNumber(unwrapped, 0, trace);
            if (milliseconds is { } ms && ms >= -1 && ms <= DurationText.MaxValue.TotalMilliseconds)
            {
                return new Duration(ms == -1 ? System.Threading.Timeout.InfiniteTimeSpan : TimeSpan.FromTicks((long)(ms * TimeSpan.TicksPerMillisecond)), operation, isMilliseconds: true, trace.Configured);
            }
        }

        return null;
    }

    public Duration? EvaluateTimeSpan(IOperation? operation)
    {
        if (operation is null)
        {
            return null;
        }

        var trace = new Trace();
        var ticks = EvaluateTicks(operation, 0, trace);
        if (ticks is not { } value)
        {
            return null;
        }

        // Outside ±365 days (or below -1 ms) is either overflow or not a timeout anyone means; leave it alone.
        if (value < System.Threading.Timeout.InfiniteTimeSpan.Ticks || value > DurationText.MaxValue.Ticks)
        {
            return value == TimeSpan.MaxValue.Ticks ? new Duration(System.Threading.Timeout.InfiniteTimeSpan, operation, false, trace.Configured) : null;
        }

        return new Duration(TimeSpan.FromTicks((long)value), operation, isMilliseconds: false, trace.Configured);
    }

    /// <summary>
    /// What an assignment to a member of <paramref name="type"/> writes: a <see cref="Duration"/> for a TimeSpan, a number, an
    /// enum member's name; null when it is unknown or of no other type.
    /// </summary>
    public object? EvaluateWritten(IOperation value, ITypeSymbol? type)
    {
        if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T, TypeArguments.Length: 1 } nullable)
        {
            type = nullable.TypeArguments[0];
        }

        if (_types.IsTimeSpan(type))
        {
            return EvaluateTimeSpan(value);
        }

        if (type?.TypeKind == TypeKind.Enum)
        {
            return SkipConversions(value) is IFieldReferenceOperation { Field.HasConstantValue: true } member ? member.Field.Name : null;
        }

        return type?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Double ? EvaluateNumber(value) : null;
    }

    /// <summary>What one evaluation read on its way: the configuration value it came from, if any.</summary>
    private sealed class Trace
    {
        public ConfiguredValue? Configured { get; set; }
    }

    /// <summary>Evaluates an integer or floating constant, following locals with a single constant assignment.</summary>
    public double? EvaluateNumber(IOperation? operation) => EvaluateNumber(operation, 0, new Trace());

    public static IOperation SkipConversions(IOperation operation)
    {
        while (operation is IConversionOperation conversion)
        {
            operation = conversion.Operand;
        }

        return operation;
    }

    /// <summary>The single value ever stored in a local declared in this body, or null when it is assigned more than once or by reference.</summary>
    public static IOperation? SingleAssignedValue(ILocalSymbol local, IOperation anyOperationInBody)
    {
        var root = anyOperationInBody;
        while (root.Parent is not null)
        {
            root = root.Parent;
        }

        IOperation? initializer = null;
        foreach (var descendant in root.DescendantsAndSelf())
        {
            switch (descendant)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local):
                    initializer = declarator.GetVariableInitializer()?.Value;
                    break;
                case IAssignmentOperation assignment when assignment.Target is ILocalReferenceOperation target && SymbolEqualityComparer.Default.Equals(target.Local, local):
                    return null;
                case IIncrementOrDecrementOperation increment when increment.Target is ILocalReferenceOperation target && SymbolEqualityComparer.Default.Equals(target.Local, local):
                    return null;
                case IArgumentOperation argument when argument.Parameter?.RefKind is RefKind.Ref or RefKind.Out
                    && SkipConversions(argument.Value) is ILocalReferenceOperation passed && SymbolEqualityComparer.Default.Equals(passed.Local, local):
                    return null;
                case ILocalReferenceOperation declaration when declaration.IsDeclaration && SymbolEqualityComparer.Default.Equals(declaration.Local, local):
                    return null;
            }
        }

        return initializer;
    }

    private double? EvaluateTicks(IOperation operation, int depth, Trace trace)
    {
        if (depth > MaxDepth)
        {
            return null;
        }

        operation = SkipConversions(operation);
        switch (operation)
        {
            case IParenthesizedOperation parenthesized:
                return EvaluateTicks(parenthesized.Operand, depth + 1, trace);
            case IInvocationOperation invocation when SymbolEqualityComparer.Default.Equals(invocation.TargetMethod.ContainingType, _types.TimeSpan):
                return EvaluateTimeSpanMethod(invocation, depth, trace);
            case IObjectCreationOperation creation when _types.IsTimeSpan(creation.Type):
                return EvaluateTimeSpanConstructor(creation, depth, trace);
            case IDefaultValueOperation defaultValue when _types.IsTimeSpan(defaultValue.Type):
                return 0;
            case IFieldReferenceOperation field:
                return EvaluateTimeSpanField(field.Field, operation, depth, trace);
            case IPropertyReferenceOperation { Arguments.Length: 0 } property when _types.IsTimeSpan(property.Type):
                if (Configured(property, trace, out var ambiguous) is { } configuredSpan)
                {
                    return ParseTimeSpan(configuredSpan);
                }

                return !ambiguous && DeclaredValue(property.Property) is { } declaredSpan ? EvaluateTicks(declaredSpan, depth + 1, trace) : null;
            case IInvocationOperation { TargetMethod.Name: "GetValue" } getValue when _types.IsTimeSpan(getValue.Type) && _configuration is not null:
                return _configuration.GetValue(getValue, out var spanDefault) is { } read ? Read(read, trace, ParseTimeSpan)
                    : spanDefault is null ? null : EvaluateTicks(spanDefault, depth + 1, trace);
            case ILocalReferenceOperation local when _types.IsTimeSpan(local.Type):
                return SingleAssignedValue(local.Local, operation) is { } value ? EvaluateTicks(value, depth + 1, trace) : null;
            case IParameterReferenceOperation parameter when _types.IsTimeSpan(parameter.Type) && _declarations?.OnlyArgument(parameter.Parameter) is { } passed:
                return EvaluateTicks(passed, depth + 1, trace);
            case IBinaryOperation binary:
                return EvaluateTimeSpanArithmetic(binary, depth, trace);
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Minus } negation when _types.IsTimeSpan(negation.Type):
                return -EvaluateTicks(negation.Operand, depth + 1, trace);
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Plus } plus when _types.IsTimeSpan(plus.Type):
                return EvaluateTicks(plus.Operand, depth + 1, trace);
            default:
                return null;
        }
    }

    private double? EvaluateTimeSpanMethod(IInvocationOperation invocation, int depth, Trace trace)
    {
        var method = invocation.TargetMethod;
        if (method.IsStatic && method.Name == "Parse" && invocation.Arguments.Length >= 1 && ConfiguredString(invocation.Arguments[0].Value, trace) is { } text)
        {
            return ParseTimeSpan(text);
        }

        if (method.IsStatic && FactoryUnits.TryGetValue(method.Name, out var units))
        {
            double total = 0;
            foreach (var argument in invocation.Arguments)
            {
                var ordinal = argument.Parameter?.Ordinal ?? -1;
                if (ordinal < 0 || ordinal >= units.Length || EvaluateNumber(argument.Value, depth + 1, trace) is not { } number)
                {
                    return null;
                }

                total += number * units[ordinal];
            }

            // TimeSpan.From*(double) rounds to whole ticks; anything else is exact integer arithmetic.
            return invocation.Arguments.Length == 0 ? null : Math.Round(total);
        }

        if (!method.IsStatic && invocation.Instance is { } instance && invocation.Arguments.Length == 1)
        {
            var left = EvaluateTicks(instance, depth + 1, trace);
            var argument = invocation.Arguments[0].Value;
            return method.Name switch
            {
                "Add" => left + EvaluateTicks(argument, depth + 1, trace),
                "Subtract" => left - EvaluateTicks(argument, depth + 1, trace),
                "Multiply" => left * EvaluateNumber(argument, depth + 1, trace),
                "Divide" when EvaluateNumber(argument, depth + 1, trace) is { } divisor && divisor != 0 => left / divisor,
                _ => null,
            };
        }

        return null;
    }

    private double? EvaluateTimeSpanConstructor(IObjectCreationOperation creation, int depth, Trace trace)
    {
        var values = new double[creation.Arguments.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var argument = creation.Arguments[i];
            var ordinal = argument.Parameter?.Ordinal ?? -1;
            if (ordinal < 0 || ordinal >= values.Length || EvaluateNumber(argument.Value, depth + 1, trace) is not { } number)
            {
                return null;
            }

            values[ordinal] = number;
        }

        return values.Length switch
        {
            1 => values[0],
            3 => (values[0] * TimeSpan.TicksPerHour) + (values[1] * TimeSpan.TicksPerMinute) + (values[2] * TimeSpan.TicksPerSecond),
            4 => (values[0] * TimeSpan.TicksPerDay) + (values[1] * TimeSpan.TicksPerHour) + (values[2] * TimeSpan.TicksPerMinute) + (values[3] * TimeSpan.TicksPerSecond),
            5 => (values[0] * TimeSpan.TicksPerDay) + (values[1] * TimeSpan.TicksPerHour) + (values[2] * TimeSpan.TicksPerMinute) + (values[3] * TimeSpan.TicksPerSecond) + (values[4] * TimeSpan.TicksPerMillisecond),
            6 => (values[0] * TimeSpan.TicksPerDay) + (values[1] * TimeSpan.TicksPerHour) + (values[2] * TimeSpan.TicksPerMinute) + (values[3] * TimeSpan.TicksPerSecond) + (values[4] * TimeSpan.TicksPerMillisecond) + (values[5] * TicksPerMicrosecond),
            _ => null,
        };
    }

    private double? EvaluateTimeSpanField(IFieldSymbol field, IOperation reference, int depth, Trace trace)
    {
        if (SymbolEqualityComparer.Default.Equals(field.ContainingType, _types.TimeSpan))
        {
            return field.Name switch
            {
                "Zero" => 0,
                "MaxValue" => TimeSpan.MaxValue.Ticks,
                _ => null,
            };
        }

        if (SymbolEqualityComparer.Default.Equals(field.ContainingType, _types.Timeout) && field.Name == "InfiniteTimeSpan")
        {
            return System.Threading.Timeout.InfiniteTimeSpan.Ticks;
        }

        if (!_types.IsTimeSpan(field.Type))
        {
            return null;
        }

        // A field keeps its initializer when nothing assigns it again (a readonly field can still be set in a constructor).
        if (_declarations is not null && !field.IsConst && !_declarations.IsWrittenElsewhere(field) && _declarations.InitialValue(field) is { } declared)
        {
            return EvaluateTicks(declared, depth + 1, trace);
        }

        if (!field.IsStatic || !field.IsReadOnly)
        {
            return null;
        }

        var model = reference.SemanticModel;
        foreach (var declaration in field.DeclaringSyntaxReferences)
        {
            if (model is null || declaration.SyntaxTree != model.SyntaxTree)
            {
                continue;
            }

            if (declaration.GetSyntax() is Microsoft.CodeAnalysis.CSharp.Syntax.VariableDeclaratorSyntax { Initializer.Value: { } value }
                && model.GetOperation(value) is { } initializer)
            {
                return EvaluateTicks(initializer, depth + 1, trace);
            }
        }

        return null;
    }

    /// <summary>A bound options property's value from a configuration file, remembered in the trace for the message.</summary>
    private ConfiguredValue? Configured(IPropertyReferenceOperation property, Trace trace, out bool ambiguous)
    {
        ambiguous = false;
        if (_configuration?.BoundProperty(property, out ambiguous) is not { } value || (_declarations?.IsWrittenElsewhere(property.Property) ?? false))
        {
            return null;
        }

        trace.Configured ??= value;
        return value;
    }

    /// <summary>A configuration string read (<c>configuration["A:B"]</c>), or with <c>?? "30"</c> the fallback when no file sets it.</summary>
    private ConfiguredValue? ConfiguredString(IOperation operation, Trace trace)
    {
        if (_configuration?.StringRead(operation) is not { } value)
        {
            return null;
        }

        trace.Configured ??= value;
        return value;
    }

    private static double? Read(ConfiguredValue value, Trace trace, Func<ConfiguredValue, double?> parse)
    {
        trace.Configured ??= value;
        return parse(value);
    }

    /// <summary>As the configuration binder converts text to a TimeSpan: <c>TimeSpan.Parse</c> with the invariant culture ("30" is 30 days).</summary>
    private static double? ParseTimeSpan(ConfiguredValue value) =>
        TimeSpan.TryParse(value.Text, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed.Ticks : null;

    private static double? ParseNumber(ConfiguredValue value) =>
        double.TryParse(value.Text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
            && !double.IsNaN(parsed) && !double.IsInfinity(parsed) ? parsed : null;

    /// <summary>
    /// A property's declared value (initializer or expression-bodied getter) when no code in the compilation assigns it
    /// elsewhere; an options class's default that registration code overrides is not its value.
    /// </summary>
    private IOperation? DeclaredValue(IPropertySymbol property)
    {
        if (_declarations is null || property.DeclaringSyntaxReferences.Length == 0)
        {
            return null;
        }

        return property.SetMethod is not null && _declarations.IsWrittenElsewhere(property) ? null : _declarations.InitialValue(property);
    }

    private double? EvaluateTimeSpanArithmetic(IBinaryOperation binary, int depth, Trace trace)
    {
        var leftIsSpan = _types.IsTimeSpan(SkipConversions(binary.LeftOperand).Type);
        var rightIsSpan = _types.IsTimeSpan(SkipConversions(binary.RightOperand).Type);
        switch (binary.OperatorKind)
        {
            case BinaryOperatorKind.Add when leftIsSpan && rightIsSpan:
                return EvaluateTicks(binary.LeftOperand, depth + 1, trace) + EvaluateTicks(binary.RightOperand, depth + 1, trace);
            case BinaryOperatorKind.Subtract when leftIsSpan && rightIsSpan:
                return EvaluateTicks(binary.LeftOperand, depth + 1, trace) - EvaluateTicks(binary.RightOperand, depth + 1, trace);
            case BinaryOperatorKind.Multiply when leftIsSpan && !rightIsSpan:
                return EvaluateTicks(binary.LeftOperand, depth + 1, trace) * EvaluateNumber(binary.RightOperand, depth + 1, trace);
            case BinaryOperatorKind.Multiply when rightIsSpan && !leftIsSpan:
                return EvaluateNumber(binary.LeftOperand, depth + 1, trace) * EvaluateTicks(binary.RightOperand, depth + 1, trace);
            case BinaryOperatorKind.Divide when leftIsSpan && !rightIsSpan:
                return EvaluateNumber(binary.RightOperand, depth + 1, trace) is { } divisor && divisor != 0 ? EvaluateTicks(binary.LeftOperand, depth + 1, trace) / divisor : null;
            default:
                return null;
        }
    }

    private double? EvaluateNumber(IOperation? operation, int depth, Trace trace)
    {
        if (operation is null || depth > MaxDepth)
        {
            return null;
        }

        if (operation.ConstantValue is { HasValue: true, Value: { } constant })
        {
            return constant switch
            {
                int i => i,
                long l => l,
                double d when !double.IsNaN(d) && !double.IsInfinity(d) => d,
                float f when !float.IsNaN(f) && !float.IsInfinity(f) => f,
                short s => s,
                uint u => u,
                byte b => b,
                decimal m => (double)m,
                _ => null,
            };
        }

        operation = SkipConversions(operation);
        switch (operation)
        {
            case IParenthesizedOperation parenthesized:
                return EvaluateNumber(parenthesized.Operand, depth + 1, trace);
            case ILocalReferenceOperation local when local.Type?.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Double:
                return SingleAssignedValue(local.Local, operation) is { } value ? EvaluateNumber(value, depth + 1, trace) : null;
            case IParameterReferenceOperation parameter when _boundParameter is not null && SymbolEqualityComparer.Default.Equals(parameter.Parameter, _boundParameter):
                return _boundValue;
            case IParameterReferenceOperation parameter when _declarations?.OnlyArgument(parameter.Parameter) is { } passed:
                return EvaluateNumber(passed, depth + 1, trace);
            case IFieldReferenceOperation { Field.IsConst: false } field when _declarations is not null && !_declarations.IsWrittenElsewhere(field.Field) && _declarations.InitialValue(field.Field) is { } declared:
                return EvaluateNumber(declared, depth + 1, trace);
            case IPropertyReferenceOperation { Arguments.Length: 0 } property:
                if (Configured(property, trace, out var ambiguousNumber) is { } configuredNumber)
                {
                    return ParseNumber(configuredNumber);
                }

                return !ambiguousNumber && DeclaredValue(property.Property) is { } declaredNumber ? EvaluateNumber(declaredNumber, depth + 1, trace) : null;
            case IInvocationOperation { TargetMethod.Name: "GetValue" } getValue when _configuration is not null:
                return _configuration.GetValue(getValue, out var numberDefault) is { } read ? Read(read, trace, ParseNumber)
                    : numberDefault is null ? null : EvaluateNumber(numberDefault, depth + 1, trace);
            case IInvocationOperation { TargetMethod: { IsStatic: true, Name: "Parse" or "ToInt32" or "ToInt64" or "ToDouble" } } parse
                when parse.Arguments.Length >= 1 && ConfiguredString(parse.Arguments[0].Value, trace) is { } text:
                return ParseNumber(text);
            case IInvocationOperation { TargetMethod: { IsStatic: true, ContainingType.Name: "Math" } math } call when call.Arguments.Length is 1 or 2:
                var first = EvaluateNumber(call.Arguments[0].Value, depth + 1, trace);
                var second = call.Arguments.Length == 2 ? EvaluateNumber(call.Arguments[1].Value, depth + 1, trace) : null;
                return math.Name switch
                {
                    "Pow" when first is { } x && second is { } y && Math.Pow(x, y) is var power && !double.IsInfinity(power) && !double.IsNaN(power) => power,
                    "Min" when first is { } x && second is { } y => Math.Min(x, y),
                    "Max" when first is { } x && second is { } y => Math.Max(x, y),
                    "Abs" when first is { } x && call.Arguments.Length == 1 => Math.Abs(x),
                    _ => null,
                };
            case IBinaryOperation binary:
                var left = EvaluateNumber(binary.LeftOperand, depth + 1, trace);
                var right = EvaluateNumber(binary.RightOperand, depth + 1, trace);
                return binary.OperatorKind switch
                {
                    BinaryOperatorKind.Add => left + right,
                    BinaryOperatorKind.Subtract => left - right,
                    BinaryOperatorKind.Multiply => left * right,
                    BinaryOperatorKind.Divide when right is { } divisor && divisor != 0 => left / divisor,
                    _ => null,
                };
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Minus } negation:
                return -EvaluateNumber(negation.Operand, depth + 1, trace);
            default:
                return null;
        }
    }
}

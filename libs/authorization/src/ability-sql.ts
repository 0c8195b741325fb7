import { rulesToAST } from '@casl/ability/extra';
import { Condition, CompoundCondition, FieldCondition } from '@ucast/mongo2js';
import { Action, AppAbility, SubjectName } from './ability';

export class UnsupportedRuleError extends Error {}

export interface SqlFilter {
  /** A boolean SQL expression with $-free named parameters (`:p0`, `:p1`, ...), TypeORM style. */
  sql: string;
  params: Record<string, unknown>;
}

/**
 * Turns the caller's abilities for (action, subject) into a SQL condition, so list queries are
 * filtered by the database rather than in memory. Returns null when the caller may not see any
 * row. The translator is strict: only known fields (mapped to columns by `columns`) and the
 * operators eq, ne, in, nin, and, or, not are accepted; anything else throws, so a new kind of
 * rule can never silently widen a query.
 */
export function abilityToSql(
  ability: AppAbility,
  action: Action,
  subject: SubjectName,
  columns: Readonly<Record<string, string>>,
  paramPrefix = 'casl',
): SqlFilter | null {
  const ast = rulesToAST(ability, action, subject);
  if (ast === null) return null;
  const params: Record<string, unknown> = {};
  let counter = 0;
  const param = (value: unknown) => {
    const name = `${paramPrefix}${counter++}`;
    params[name] = value;
    return `:${name}`;
  };
  const column = (field: string) => {
    if (!Object.prototype.hasOwnProperty.call(columns, field)) {
      throw new UnsupportedRuleError(`field "${field}" of ${subject} has no column mapping`);
    }
    return columns[field];
  };
  const translate = (node: Condition): string => {
    switch (node.operator) {
      case 'and':
      case 'or': {
        const parts = (node as CompoundCondition).value.map(translate);
        if (parts.length === 0) return node.operator === 'and' ? 'TRUE' : 'FALSE';
        return `(${parts.join(node.operator === 'and' ? ' AND ' : ' OR ')})`;
      }
      case 'not': {
        const inner = (node as CompoundCondition).value;
        const parts = (Array.isArray(inner) ? inner : [inner as unknown as Condition]).map(translate);
        return `NOT (${parts.join(' AND ')})`;
      }
      case 'eq':
      case 'ne': {
        const { field, value } = node as FieldCondition;
        if (value === null) return `${column(field)} IS ${node.operator === 'eq' ? '' : 'NOT '}NULL`;
        assertScalar(value, subject, field);
        return `${column(field)} ${node.operator === 'eq' ? '=' : '<>'} ${param(value)}`;
      }
      case 'in':
      case 'nin': {
        const { field, value } = node as FieldCondition<unknown[]>;
        if (!Array.isArray(value)) throw new UnsupportedRuleError(`${node.operator} on ${field} needs an array`);
        value.forEach((v) => assertScalar(v, subject, field));
        if (value.length === 0) return node.operator === 'in' ? 'FALSE' : 'TRUE';
        return `${node.operator === 'nin' ? 'NOT ' : ''}(${column(field)} IN (${param(value).replace(/^:(.*)$/, ':...$1')}))`;
      }
      default:
        throw new UnsupportedRuleError(`operator "${node.operator}" is not supported in SQL filters`);
    }
  };
  return { sql: translate(ast), params };
}

function assertScalar(value: unknown, subject: string, field: string): void {
  if (!['string', 'number', 'boolean'].includes(typeof value)) {
    throw new UnsupportedRuleError(`condition on ${subject}.${field} must compare with a scalar`);
  }
}

import { type Environment, type EnvironmentRef, presentEnvironments } from './statuses';
import { frenchCollator } from './words';

export interface InstanceRow {
  id: number;
  serviceId: number;
  serviceName: string;
  environment: Environment;
  teamName: string;
  communeId: number | null;
  communeName: string | null;
}

export interface PerimeterLine {
  serviceId: number;
  serviceName: string;
  /** The default environments' counts (the agenda's sentence names them). */
  prod: number;
  recette: number;
  teams: string[];
  communes: string[];
}

function build(instances: readonly InstanceRow[]): { line: PerimeterLine; counts: Map<Environment, number> }[] {
  const lines = new Map<number, { line: PerimeterLine; counts: Map<Environment, number> }>();
  for (const instance of instances) {
    let entry = lines.get(instance.serviceId);
    if (!entry) {
      entry = { line: { serviceId: instance.serviceId, serviceName: instance.serviceName, prod: 0, recette: 0, teams: [], communes: [] }, counts: new Map() };
      lines.set(instance.serviceId, entry);
    }
    const { line, counts } = entry;
    counts.set(instance.environment, (counts.get(instance.environment) ?? 0) + 1);
    if (instance.environment === 'prod' || instance.environment === 'recette') line[instance.environment] += 1;
    if (!line.teams.includes(instance.teamName)) line.teams.push(instance.teamName);
    if (instance.communeName && !line.communes.includes(instance.communeName)) line.communes.push(instance.communeName);
  }
  // names read in French order (Écully before Vénissieux), whatever order the instances came in
  for (const { line } of lines.values()) line.communes.sort(frenchCollator.compare);
  return [...lines.values()];
}

/** Counts of instances per service and environment, with the teams that manage them. */
export function perimeterLines(instances: readonly InstanceRow[]): PerimeterLine[] {
  return build(instances).map((e) => e.line);
}

/**
 * The perimeter as a table: one column per environment present among the instances, in the organisation's
 * order, and for each service its counts in those columns.
 */
export function perimeterTable(instances: readonly InstanceRow[], environments: readonly EnvironmentRef[]): {
  columns: EnvironmentRef[];
  lines: (PerimeterLine & { counts: number[] })[];
} {
  const columns = presentEnvironments(environments, instances.map((i) => i.environment));
  return { columns, lines: build(instances).map(({ line, counts }) => ({ ...line, counts: columns.map((c) => counts.get(c.code) ?? 0) })) };
}

/** Instances of the perimeter counted per service, environment and managing team (of which `communal` in a commune). */
export interface PerimeterGroup { serviceId: number; serviceName: string; environment: Environment; teamName: string; instances: number; communal: number }

/**
 * The perimeter table from counted groups, as perimeterTable builds it from every instance: one column per environment
 * present, in the organisation's order; per service its counts, its teams in the order they first appear (the groups
 * come in the instance list's order) and whether communes' instances are among them.
 */
export function perimeterTableOfGroups(groups: readonly PerimeterGroup[], environments: readonly EnvironmentRef[]): {
  columns: EnvironmentRef[];
  lines: { serviceId: number; serviceName: string; counts: number[]; teams: string[]; communal: boolean }[];
  instances: number;
} {
  const columns = presentEnvironments(environments, groups.map((g) => g.environment));
  const lines = new Map<number, { serviceId: number; serviceName: string; byEnv: Map<Environment, number>; teams: string[]; communal: boolean }>();
  for (const g of groups) {
    let line = lines.get(g.serviceId);
    if (!line) {
      line = { serviceId: g.serviceId, serviceName: g.serviceName, byEnv: new Map(), teams: [], communal: false };
      lines.set(g.serviceId, line);
    }
    line.byEnv.set(g.environment, (line.byEnv.get(g.environment) ?? 0) + g.instances);
    if (!line.teams.includes(g.teamName)) line.teams.push(g.teamName);
    if (g.communal > 0) line.communal = true;
  }
  return {
    columns,
    lines: [...lines.values()].map(({ byEnv, ...line }) => ({ ...line, counts: columns.map((c) => byEnv.get(c.code) ?? 0) })),
    instances: groups.reduce((n, g) => n + g.instances, 0),
  };
}

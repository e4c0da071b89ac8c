import type { Environment } from './statuses';

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
  prod: number;
  recette: number;
  teams: string[];
  communes: string[];
}

/** Counts of instances per service and environment, with the teams that manage them. */
export function perimeterLines(instances: readonly InstanceRow[]): PerimeterLine[] {
  const lines = new Map<number, PerimeterLine>();
  for (const instance of instances) {
    let line = lines.get(instance.serviceId);
    if (!line) {
      line = { serviceId: instance.serviceId, serviceName: instance.serviceName, prod: 0, recette: 0, teams: [], communes: [] };
      lines.set(instance.serviceId, line);
    }
    line[instance.environment] += 1;
    if (!line.teams.includes(instance.teamName)) line.teams.push(instance.teamName);
    if (instance.communeName && !line.communes.includes(instance.communeName)) line.communes.push(instance.communeName);
  }
  return [...lines.values()];
}

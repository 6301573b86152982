import { signUpPrerequisiteProblem } from './database-server';

describe('signUpPrerequisiteProblem', () => {
  const facts = { versionNum: 150004, version: '15.4', createsDatabases: true };

  it('accepts PostgreSQL 15 or later with a role that creates databases', () => {
    expect(signUpPrerequisiteProblem(facts, 'farm')).toBeUndefined();
    expect(
      signUpPrerequisiteProblem({ ...facts, versionNum: 170000, version: '17.0' }, 'farm'),
    ).toBeUndefined();
  });

  it('refuses a server older than 15, naming its version', () => {
    expect(signUpPrerequisiteProblem({ ...facts, versionNum: 140010, version: '14.10' }, 'farm')).toBe(
      'PostgreSQL 15 or later is needed (sign-ups clone databases with CREATE DATABASE ... STRATEGY); ' +
        'the server runs 14.10',
    );
  });

  it('refuses a role that may not create databases, naming it', () => {
    expect(signUpPrerequisiteProblem({ ...facts, createsDatabases: false }, 'farm')).toBe(
      'The role farm may not create databases, which every sign-up does: give it CREATEDB',
    );
  });
});

import type { Response } from 'express';

/** The header of every 201 response: where the created resource is read. */
export const locationHeaderDoc = {
  Location: {
    description: 'The path of the created resource, which its GET route reads',
    required: true,
    schema: { type: 'string' },
  },
};

export function setLocation(response: Response, path: string): void {
  response.setHeader('Location', path);
}

import 'reflect-metadata';
import { ArrayMaxSize, IsArray, IsIn, IsObject, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { Type } from 'class-transformer';
import { AppException } from './app-exception';
import { DEFAULT_ARRAY_MAX_SIZE, sizeErrors, StrictValidationPipe, UniqueItems } from './validation';

class Inner {
  @IsOptional()
  @IsString()
  @MaxLength(5)
  label?: string;
}

class Dto {
  @IsArray()
  @ArrayMaxSize(3)
  @UniqueItems()
  @IsIn(['a', 'b', 'c', 'd'], { each: true })
  roles: string[];

  @IsOptional()
  @IsString()
  @MaxLength(10)
  name?: string;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  tags?: string[];

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => Inner)
  inner?: Inner;
}

describe('validation: shape and size first, linear constraints', () => {
  const pipe = new StrictValidationPipe();
  const validate = (value: unknown) => pipe.transform(value, { type: 'body', metatype: Dto });
  const fieldsOf = async (value: unknown) => {
    const error = await validate(value).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AppException);
    return ((error as AppException).extras.errors ?? []).map((e) => e.field);
  };

  it('accepts a valid body', async () => {
    await expect(validate({ roles: ['a', 'b'], name: 'x', tags: ['t'], inner: { label: 'ok' } })).resolves.toBeInstanceOf(Dto);
  });

  it('refuses duplicates with a linear check, fast even for a huge array', async () => {
    expect(await fieldsOf({ roles: ['a', 'a'] })).toEqual(['roles']);
    const huge = Array.from({ length: 200_000 }, (_, i) => `r${i}`);
    const started = performance.now();
    expect(sizeErrors(Dto, { roles: huge })).toEqual([{ field: 'roles', messages: ['roles must contain no more than 3 elements'] }]);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('refuses wrong kinds, unknown fields, overlong values and uncapped arrays before anything else runs', () => {
    expect(sizeErrors(Dto, { roles: ['a'], name: ['x'] as never })).toEqual([{ field: 'name', messages: ['name must be a string'] }]);
    expect(sizeErrors(Dto, { roles: ['a'], name: 'x'.repeat(11) })[0].field).toBe('name');
    expect(sizeErrors(Dto, { roles: ['a'], extra: 1 })).toEqual([{ field: 'extra', messages: ['property extra should not exist'] }]);
    expect(sizeErrors(Dto, { roles: ['a'], inner: [] as never })[0]).toEqual({ field: 'inner', messages: ['inner must be an object'] });
    expect(sizeErrors(Dto, { roles: ['a'], inner: { label: 'too long' } })[0].field).toBe('inner.label');
    const tags = Array.from({ length: DEFAULT_ARRAY_MAX_SIZE + 1 }, () => 't');
    expect(sizeErrors(Dto, { roles: ['a'], tags })[0].field).toBe('tags');
  });

  it('refuses a body that is not an object', async () => {
    for (const body of [true, 'x', 3, [], null]) {
      await expect(validate(body)).rejects.toMatchObject({ code: 'malformed_request', status: 400 });
    }
  });
});

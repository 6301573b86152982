import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ConflictError } from '../common/domain-errors';
import { findByIdOrFail } from '../common/find-or-fail';
import { definedOnly, NEWEST_FIRST } from '../common/queries';
import { InjectTenantEntityManager } from '../tenancy/tenant-entity-manager';
import { CreateUserDto, UpdateUserDto } from './dto/user.dto';
import { User } from './user.entity';

@Injectable()
export class UsersService {
  constructor(@InjectTenantEntityManager() private readonly em: EntityManager) {}

  async create(dto: CreateUserDto): Promise<User> {
    const user = this.em.create(User, dto);
    await this.flush(dto.email);
    return user;
  }

  list(limit: number, offset: number): Promise<[User[], number]> {
    return this.em.findAndCount(User, {}, { orderBy: NEWEST_FIRST, limit, offset });
  }

  get(id: string): Promise<User> {
    return findByIdOrFail(this.em, User, id);
  }

  async update(id: string, dto: UpdateUserDto): Promise<User> {
    const user = await this.get(id);
    this.em.assign(user, definedOnly(dto));
    await this.flush(user.email);
    return user;
  }

  async remove(id: string): Promise<void> {
    this.em.remove(await this.get(id));
    await this.em.flush();
  }

  /** The unique index on lower(email) decides, so two concurrent requests cannot both win. */
  private async flush(email: string): Promise<void> {
    try {
      await this.em.flush();
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw new ConflictError('USER_EMAIL_TAKEN', `A user with the email ${email} already exists`);
      }
      throw error;
    }
  }
}
